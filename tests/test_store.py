"""The store under concurrency: readers wait for a writer, then answer or say why not."""

from __future__ import annotations

import subprocess
import sys
import time
from pathlib import Path

import pytest

from hub.store import Store, StoreError, quote_ident
from tests.conftest import DemoProject, steward

HOLD_WRITE_LOCK = """
import sys, time, duckdb
con = duckdb.connect(sys.argv[1])
con.execute("CREATE TABLE IF NOT EXISTS t AS SELECT 1 AS x")
print("locked", flush=True)
time.sleep(float(sys.argv[2]))
"""


def hold_lock(path: Path, seconds: float) -> subprocess.Popen:
    process = subprocess.Popen(
        [sys.executable, "-c", HOLD_WRITE_LOCK, str(path), str(seconds)],
        stdout=subprocess.PIPE,
        text=True,
    )
    assert process.stdout.readline().strip() == "locked"
    return process


def test_reader_waits_for_the_writer_then_answers(tmp_path: Path) -> None:
    path = tmp_path / "hub.duckdb"
    writer = hold_lock(path, 1.5)
    started = time.monotonic()
    with Store(path, lock_timeout=20).reader() as con:
        assert con.execute("SELECT x FROM t").fetchone() == (1,)
    assert time.monotonic() - started >= 0.5  # it really waited for the lock
    writer.wait()


def test_reader_gives_up_with_a_clear_message(tmp_path: Path) -> None:
    path = tmp_path / "hub.duckdb"
    writer = hold_lock(path, 10)
    try:
        with pytest.raises(StoreError, match=rf"stayed locked .*held by PID {writer.pid}"):
            with Store(path, lock_timeout=0.5).reader():
                pass
    finally:
        writer.kill()


def test_missing_store_says_how_to_build_it(tmp_path: Path) -> None:
    with pytest.raises(StoreError, match="run `hub run`"):
        with Store(tmp_path / "none.duckdb").reader():
            pass


def test_identifiers_from_config_are_validated() -> None:
    assert quote_ident("crm__clients") == '"crm__clients"'
    with pytest.raises(StoreError):
        quote_ident('x"; DROP TABLE y; --')


def test_notebook_query_answers_while_another_process_materializes(
    built_demo: DemoProject,
) -> None:
    run = subprocess.Popen(
        [sys.executable, "-m", "hub.cli", "run"], stdout=subprocess.DEVNULL, stderr=subprocess.PIPE
    )
    answers = 0
    while run.poll() is None:
        assert steward("SELECT count(*) AS n FROM raw.crm__clients").n[0] == 12
        answers += 1
        time.sleep(0.2)  # a person at a notebook, not a tight loop
    assert run.returncode == 0, run.stderr.read()
    assert answers >= 5
