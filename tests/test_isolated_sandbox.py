"""The agents' SQL sandbox in its own process: limits on rows, bytes, memory and time bite,
and the sandbox answers again after a query was stopped."""

from __future__ import annotations

import subprocess
import sys
import time
from pathlib import Path

import duckdb
import pytest

from hub.sandbox import (
    IsolatedSandbox,
    SandboxQueryError,
    SandboxRefused,
    SandboxTimeout,
    parse_bytes,
)


@pytest.fixture
def sandbox(tmp_path: Path):  # noqa: ANN201
    path = tmp_path / "copy.duckdb"
    con = duckdb.connect(str(path))
    con.execute(
        "CREATE TABLE clients AS SELECT range AS id, 'client ' || range AS name FROM range(5000)"
    )
    con.close()
    with IsolatedSandbox(path, memory_limit="256MB") as isolated:
        yield isolated


def test_rows_and_bytes_are_capped_and_said_so(sandbox: IsolatedSandbox) -> None:
    few = sandbox.query("SELECT * FROM clients ORDER BY id", max_rows=10, max_bytes=1 << 20)
    assert len(few.rows) == 10 and few.truncated
    small = sandbox.query("SELECT * FROM clients ORDER BY id", max_rows=5000, max_bytes=500)
    assert 0 < len(small.rows) < 30 and small.truncated
    whole = sandbox.query("SELECT count(*) FROM clients", max_rows=10, max_bytes=500)
    assert whole.rows == [[5000]] and not whole.truncated
    huge_cell = sandbox.query("SELECT repeat('x', 10000000)", max_rows=10, max_bytes=1000)
    assert huge_cell.rows == [] and huge_cell.truncated


def test_cpu_bound_work_is_stopped_at_the_time_limit_and_the_sandbox_recovers(
    sandbox: IsolatedSandbox,
) -> None:
    started = time.monotonic()
    with pytest.raises(SandboxTimeout, match="time limit of 1.5s"):
        sandbox.query(
            "SELECT length(repeat('x', 1000000000) || repeat('y', 1000000000))", timeout=1.5
        )
    assert time.monotonic() - started < 4
    assert sandbox.query("SELECT 42").rows == [[42]]  # a fresh process took over


def test_memory_beyond_the_limit_fails_the_query_not_the_machine(
    sandbox: IsolatedSandbox,
) -> None:
    # the process's address-space cap (repeat() is not under DuckDB's buffer manager) ...
    with pytest.raises(SandboxQueryError, match="Out of Memory|memory limit"):
        sandbox.query("SELECT length(repeat('x', 3000000000))", timeout=20)
    # ... and DuckDB's own memory limit
    with pytest.raises(SandboxQueryError, match="Out of Memory"):
        sandbox.query("SELECT list(random()) FROM range(100000000)", timeout=20)
    assert sandbox.query("SELECT 1").rows == [[1]]


def test_the_same_statement_rules_as_every_reader(sandbox: IsolatedSandbox) -> None:
    for attack in ("DELETE FROM clients", "SELECT 1; DROP TABLE clients", "COPY clients TO 'x'"):
        with pytest.raises(SandboxRefused, match="only one SELECT"):
            sandbox.query(attack)
    with pytest.raises(SandboxRefused, match=r"\['read_text'\] are not allowed here"):
        sandbox.query("SELECT * FROM read_text('/etc/hostname')")
    with pytest.raises(SandboxRefused, match=r"\['enable_logging'\] are not allowed here"):
        sandbox.query("SELECT * FROM enable_logging(storage='file', storage_path='/x')")
    assert sandbox.query("SELECT 1").rows == [[1]]  # and the sandbox still answers


def test_sizes_read_like_duckdb_settings() -> None:
    assert parse_bytes("512MB") == 512_000_000
    assert parse_bytes("1GiB") == 1 << 30
    with pytest.raises(ValueError, match="not a size"):
        parse_bytes("lots")


def test_works_from_any_caller_without_re_running_it(tmp_path: Path) -> None:
    """A notebook, `python -` or a script with no `__main__` guard: the child is our own
    module, not a re-import of the caller (as `multiprocessing` would do)."""
    path = tmp_path / "copy.duckdb"
    duckdb.connect(str(path)).close()
    script = (
        "from pathlib import Path\n"
        "from hub.sandbox import IsolatedSandbox\n"
        "print('caller ran', flush=True)\n"
        f"with IsolatedSandbox(Path({str(path)!r}), memory_limit='256MB') as s:\n"
        "    print(s.query('SELECT 6 * 7').rows)\n"
    )
    done = subprocess.run(
        [sys.executable, "-"], input=script, capture_output=True, text=True, timeout=60
    )
    assert done.returncode == 0, done.stderr
    assert done.stdout.splitlines() == ["caller ran", "[[42]]"]
