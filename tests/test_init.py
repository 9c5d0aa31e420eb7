"""`hub init`: a starter that loads and runs, and `--from` proposing sources and primary keys
from a folder of files, a SQLite file and a PostgreSQL database."""

from __future__ import annotations

import os
import re
import sqlite3
import subprocess
import sys
import uuid
from collections.abc import Iterator
from pathlib import Path

import duckdb
import pytest
import sqlalchemy as sa

from hub.config import load_config
from hub.propose import choose_key, identifier
from hub.runner import materialize
from hub.starter import TEMPLATE
from tests.conftest import require_service


def hub(*args: str, cwd: Path, env: dict[str, str] | None = None) -> subprocess.CompletedProcess:
    return subprocess.run(
        [sys.executable, "-m", "hub.cli", *args],
        cwd=cwd,
        capture_output=True,
        text=True,
        env={**os.environ, "DAGSTER_HOME": str(cwd / ".dagster"), **(env or {})},
        timeout=300,
    )


def rows(project: Path, table: str) -> int:
    with duckdb.connect(str(project / "data" / "hub.duckdb"), read_only=True) as con:
        return con.execute(f"SELECT count(*) FROM {table}").fetchone()[0]


@pytest.fixture
def project(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    root = tmp_path / "project"
    root.mkdir()
    (root / ".dagster").mkdir()
    monkeypatch.setenv("DAGSTER_HOME", str(root / ".dagster"))
    monkeypatch.setenv("HUB_CONFIG", str(root / "hub.yaml"))
    return root


@pytest.mark.slow
def test_the_starter_loads_and_hub_run_works_once_its_file_exists(project: Path) -> None:
    written = hub("init", cwd=project)
    assert written.returncode == 0, written.stdout + written.stderr
    assert "put orders*.csv (with `order_id` and `amount` columns) in exports/" in written.stdout
    config = load_config(project / "hub.yaml")
    assert list(config.sources) == ["shop"] and list(config.checks) == ["raw.shop__orders"]

    (project / "exports").mkdir()
    (project / "exports" / "orders_2024.csv").write_text(
        "order_id,customer_email,amount\n1,a@example.com,10.5\n2,b@example.com,0\n"
    )
    run = hub("run", cwd=project)
    assert run.returncode == 0, run.stdout + run.stderr
    assert "Traceback" not in run.stdout + run.stderr
    assert rows(project, "raw.shop__orders") == 2


def test_every_commented_out_section_loads_once_uncommented(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """`# ` lines are keys to switch on, `##` lines prose: removing the first `# ` of each
    line (an editor's toggle comment) gives a whole project that loads."""
    text = TEMPLATE.read_text()
    full = re.sub(r"(?m)^(\s*)# ", r"\1", text)
    assert full.count("\n") == text.count("\n") and "\nentities:" in full
    path = tmp_path / "hub.yaml"
    path.write_text(full)
    monkeypatch.setenv("CRM_PASSWORD", "x")
    monkeypatch.setenv("SUPPORT_TOKEN", "y")
    config = load_config(path)
    assert set(config.sources) == {"shop", "crm", "support", "docs"}
    assert list(config.entities) == ["customer"] and list(config.serve) == ["clients"]
    assert list(config.agents) == ["welcome"]


@pytest.mark.slow
def test_from_a_folder_proposes_a_table_per_file_set_with_its_key(project: Path) -> None:
    files = project.parent / "exports"
    files.mkdir()
    (files / "clients.csv").write_text("name,id,email\nAcme,1,a@acme.test\nBeta,2,b@beta.test\n")
    (files / "invoices_2024.csv").write_text("invoice_id,client_id,amount\n10,1,5\n11,1,7\n")
    (files / "invoices_2025.csv").write_text("invoice_id,client_id,amount\n12,2,9\n")
    (files / "Order Lines.csv").write_text("order,line,sku\n1,1,a\n1,2,b\n2,1,a\n")
    (files / "events.ndjson").write_text('{"event_id": 1, "at": 1.5}\n{"event_id": 2, "at": 1.5}\n')
    with duckdb.connect() as con:
        con.execute(
            f"COPY (SELECT range AS code, range * 1.5 AS price FROM range(4)) "
            f"TO '{files / 'prices.parquet'}' (FORMAT parquet)"
        )
    (files / "readme.txt").write_text("not a table\n")

    written = hub("init", "--from", str(files), cwd=project)
    assert written.returncode == 0, written.stdout + written.stderr
    assert "skipped readme.txt: not a file kind Groundwork reads" in written.stdout
    config = load_config(project / "hub.yaml")
    source = config.sources["exports"]
    assert source.kind == "files" and Path(source.path) == files
    tables = {name: (t.pattern, t.primary_key) for name, t in source.tables.items()}
    assert tables == {
        "clients": ("clients.csv", ["id"]),
        "events": ("events.ndjson", ["event_id"]),
        "invoices": ("invoices*.csv", ["invoice_id"]),
        "order_lines": ("Order Lines.csv", []),
        "prices": ("prices.parquet", ["code"]),
    }
    text = (project / "hub.yaml").read_text()
    assert "## no primary key proposed: no column is unique and not null over the 3 rows" in text
    assert "# entities:" in text and "# agents:" in text  # the other sections, commented out

    report = materialize(project / "hub.yaml")
    assert report.success, report.failures
    assert rows(project, "raw.exports__invoices") == 3
    assert rows(project, "raw.exports__order_lines") == 3


@pytest.mark.slow
def test_from_sqlite_keeps_the_declared_key_first(project: Path) -> None:
    database = project / "crm.sqlite"
    with sqlite3.connect(database) as con:
        con.execute("CREATE TABLE clients (code TEXT PRIMARY KEY, id INTEGER, company TEXT)")
        con.executemany("INSERT INTO clients VALUES (?, ?, ?)", [("A", 1, "x"), ("B", 2, "y")])
        con.execute('CREATE TABLE "Contacts" (contact_id INTEGER, client_code TEXT)')
        con.executemany('INSERT INTO "Contacts" VALUES (?, ?)', [(1, "A"), (2, "A")])
    con.close()

    written = hub("init", "--from", "crm.sqlite", cwd=project)
    assert written.returncode == 0, written.stdout + written.stderr
    config = load_config(project / "hub.yaml")
    source = config.sources["crm"]
    assert source.url == "sqlite:///crm.sqlite"  # relative to hub.yaml, so the project moves
    assert source.tables["clients"].primary_key == ["code"]  # declared, though `id` is unique
    assert source.tables["contacts"].primary_key == ["contact_id"]
    assert source.tables["contacts"].name == "Contacts"

    report = materialize(project / "hub.yaml")
    assert report.success, report.failures
    assert rows(project, "raw.crm__contacts") == 2


@pytest.fixture
def postgres_schema() -> Iterator[str]:
    require_service("PostgreSQL", "127.0.0.1", 5432)
    schema = f"hub_init_{uuid.uuid4().hex[:8]}"
    engine = sa.create_engine("postgresql+psycopg2://postgres@127.0.0.1:5432/test")
    with engine.begin() as conn:
        conn.execute(sa.text(f"CREATE SCHEMA {schema}"))
        conn.execute(
            sa.text(f"CREATE TABLE {schema}.accounts (account_id INT PRIMARY KEY, x TEXT)")
        )
        conn.execute(sa.text(f'CREATE TABLE {schema}."Events" (id INT, kind TEXT, body JSON)'))
        conn.execute(sa.text(f"INSERT INTO {schema}.accounts VALUES (1, 'a'), (2, 'b')"))
        conn.execute(
            sa.text(f"""INSERT INTO {schema}."Events" VALUES (1, 'a', '{{}}'), (2, 'a', null)""")
        )
    try:
        yield schema
    finally:
        with engine.begin() as conn:
            conn.execute(sa.text(f"DROP SCHEMA {schema} CASCADE"))
        engine.dispose()


@pytest.mark.slow
def test_from_postgresql_never_writes_the_password(project: Path, postgres_schema: str) -> None:
    password = "Init-Pw-5521"  # the server trusts local connections: any password connects
    url = f"postgresql://postgres:{password}@127.0.0.1:5432/test"
    written = hub("init", "--from", url, "--schema", postgres_schema, cwd=project)
    assert written.returncode == 0, written.stdout + written.stderr
    variable = f"{postgres_schema.upper()}_PASSWORD"
    text = (project / "hub.yaml").read_text()
    assert password not in text + written.stdout + written.stderr
    assert f'url: "postgresql://postgres:${{{variable}}}@127.0.0.1:5432/test"' in text
    assert (
        f"Set {variable} to the password of postgresql://postgres:***@127.0.0.1" in written.stdout
    )

    os.environ[variable] = password
    try:
        tables = load_config(project / "hub.yaml").sources[postgres_schema].tables
        assert tables["accounts"].primary_key == ["account_id"]
        assert tables["events"].primary_key == ["id"]  # unique in the data; JSON never a key
        assert tables["events"].name == f"{postgres_schema}.Events"
        report = materialize(project / "hub.yaml")
    finally:
        del os.environ[variable]
    assert report.success, report.failures
    assert rows(project, f"raw.{postgres_schema}__events") == 2


def test_from_errors_say_what_where_and_the_fix(project: Path) -> None:
    def said(result: subprocess.CompletedProcess) -> str:
        assert result.returncode == 2
        assert "Traceback" not in result.stdout + result.stderr
        assert "Hidden-Pw-1" not in result.stdout + result.stderr
        return " ".join(result.stdout.split())  # as one line, however the terminal wraps it

    missing = said(hub("init", "--from", "no/such/folder", cwd=project))
    assert "--from no/such/folder: no such file or folder. Fix:" in missing
    closed = "postgresql://postgres:Hidden-Pw-1@127.0.0.1:1/test"
    refused = said(hub("init", "--from", closed, cwd=project))
    assert "--from postgresql://postgres:***@127.0.0.1:1/test: cannot read the database" in refused
    assert "Fix: check that it runs and the URL" in refused
    assert not (project / "hub.yaml").exists()


def test_a_key_is_a_column_all_present_and_all_different_id_names_first() -> None:
    columns = [("name", "VARCHAR"), ("order_id", "BIGINT"), ("id", "BIGINT"), ("n", "BIGINT")]
    counts = {"name": (3, 3), "order_id": (3, 3), "id": (3, 3), "n": (3, 2)}
    assert choose_key("orders", columns, 3, counts) == (
        ["id"],
        "unique and not null in all 3 rows read",
    )
    del counts["id"]
    assert choose_key("orders", columns, 3, counts)[0] == ["order_id"]
    counts["order_id"] = (2, 2)  # a NULL among them
    assert choose_key("orders", columns, 3, counts)[0] == ["name"]
    assert choose_key("orders", columns, 0, counts)[0] == []


def test_names_become_hub_yaml_identifiers() -> None:
    assert identifier("Order Items-2024", fallback="t") == "order_items_2024"
    assert identifier("OrderItems", fallback="t") == "order_items"
    assert identifier("2024 sales", fallback="t") == "t_2024_sales"
    assert identifier("a__b", fallback="t") == "a_b"  # `__` separates source and table
