"""SQL databases, read by DuckDB's scanners and by SQLAlchemy, against SQLite, PostgreSQL and
MariaDB: the same rows and types either way, custom queries, incremental reads pushed down,
and a missing table or an unreachable server named with the fix."""

from __future__ import annotations

import datetime as dt
import uuid
from collections.abc import Iterator
from decimal import Decimal
from pathlib import Path

import pytest
import sqlalchemy as sa

from hub.load import LoadError
from tests.conftest import require_service
from tests.sources import Project

SERVERS = {
    "sqlite": (None, None, "sqlite:///crm.sqlite"),
    "postgresql": ("PostgreSQL", 5432, "postgresql://postgres@127.0.0.1:5432/test"),
    "mariadb": ("MariaDB", 3306, "mysql+pymysql://root@127.0.0.1:3306/test"),
}
ROWS = [
    {
        "id": 1,
        "name": "Zoë Ångström",
        "amount": Decimal("12.50"),
        "active": True,
        "seen": dt.datetime(2024, 5, 1, 10, 0),
        "updated": dt.datetime(2024, 5, 1, 10, 0),
        "payload": {"a": 1},
        "token": uuid.UUID("12345678-1234-5678-1234-567812345678"),
        "blob": b"\x00\xff",
    },
    {
        "id": 2,
        "name": "山田",
        "amount": None,
        "active": False,
        "seen": None,
        "updated": dt.datetime(2024, 5, 2, 9, 30),
        "payload": None,
        "token": None,
        "blob": None,
    },
]


@pytest.fixture(params=list(SERVERS))
def database(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[tuple[str, str, str]]:
    """(kind, URL as hub.yaml writes it, name of a fresh table holding ROWS)."""
    kind = request.param
    service, port, url = SERVERS[kind]
    if service:
        require_service(service, "127.0.0.1", port)
    engine = sa.create_engine(url.replace("sqlite:///", f"sqlite:///{tmp_path}/"))
    name = f"clients_{uuid.uuid4().hex[:8]}"
    table = sa.Table(
        name,
        sa.MetaData(),
        sa.Column("id", sa.Integer, primary_key=True, autoincrement=False),
        sa.Column("name", sa.String(100)),
        sa.Column("amount", sa.Numeric(12, 2)),
        sa.Column("active", sa.Boolean),
        sa.Column("seen", sa.DateTime),
        sa.Column("updated", sa.DateTime),
        sa.Column("payload", sa.JSON),
        sa.Column("token", sa.Uuid),
        sa.Column("blob", sa.LargeBinary),
        mysql_charset="utf8mb4",
    )
    try:
        table.metadata.create_all(engine)
        with engine.begin() as conn:
            conn.execute(table.insert(), ROWS)
        yield kind, url, name
    finally:
        table.metadata.drop_all(engine)
        engine.dispose()


def sql_project(tmp_path: Path, url: str, name: str, reader: str, **table: object) -> Project:
    return Project(
        tmp_path,
        {"crm": {"kind": "sql", "url": url, "reader": reader, "tables": {name: table}}},
    )


@pytest.mark.parametrize("reader", ["auto", "sqlalchemy"])
def test_every_row_and_type_read_by_scanner_or_sqlalchemy(
    database: tuple[str, str, str], tmp_path: Path, reader: str
) -> None:
    kind, url, name = database
    project = sql_project(tmp_path, url, name, reader, primary_key="id")

    result = project.load("crm", name)

    assert (result.read, result.written, result.rejected) == (2, 2, 0)
    [(source, origin)] = project.sql(
        f"SELECT DISTINCT _hub_source, _hub_origin FROM raw.crm__{name}"
    )
    assert source == "crm" and origin.endswith(f"#{name}") and ":***@" not in origin.split("//")[0]
    rows = project.sql(
        f"SELECT id, name, amount, active, seen, updated FROM raw.crm__{name} ORDER BY id"
    )
    expected = [
        tuple(r[c] for c in ("id", "name", "amount", "active", "seen", "updated")) for r in ROWS
    ]
    assert rows == expected
    types = project.types(f"raw.crm__{name}")
    # SQLite stores REAL and INTEGER: its scanner reads what is stored (declare types to say
    # more, as below); every other path reads the declared column types
    sqlite = (kind, reader) == ("sqlite", "auto")
    assert types["amount"].startswith("DOUBLE" if sqlite else "DECIMAL(12,2)")
    assert types["active"] == ("BIGINT" if sqlite else "BOOLEAN")
    assert types["seen"].startswith("TIMESTAMP")
    assert types["blob"] == "BLOB"
    [(payload, token)] = project.sql(f"SELECT payload, token FROM raw.crm__{name} WHERE id = 1")
    assert '"a"' in str(payload) and "12345678" in str(token).replace("-", "")


@pytest.mark.parametrize("reader", ["auto", "sqlalchemy"])
def test_incremental_reads_only_rows_past_the_cursor_and_merges(
    database: tuple[str, str, str], tmp_path: Path, reader: str
) -> None:
    kind, url, name = database
    project = sql_project(
        tmp_path, url, name, reader, primary_key="id", write="merge", cursor="updated"
    )
    first = project.load("crm", name)
    engine = sa.create_engine(url.replace("sqlite:///", f"sqlite:///{tmp_path}/"))
    with engine.begin() as conn:
        conn.execute(
            sa.text(f"UPDATE {name} SET name = 'Bob', updated = :t WHERE id = 2"),
            {"t": dt.datetime(2024, 6, 1)},
        )
        conn.execute(
            sa.text(f"INSERT INTO {name} (id, name, updated) VALUES (3, 'Cy', :t)"),
            {"t": dt.datetime(2024, 6, 2)},
        )
    engine.dispose()

    second = project.load("crm", name)
    again = project.load("crm", name)

    assert (first.read, second.read, again.read) == (2, 2, 0)  # only the new rows are read
    assert again.batch_id is None  # nothing new: no batch, the checked data stays
    assert project.sql(f"SELECT id, name FROM raw.crm__{name} ORDER BY id") == [
        (1, "Zoë Ångström"),
        (2, "Bob"),
        (3, "Cy"),
    ]
    assert second.cursor.startswith("2024-06-02")
    full = project.load("crm", name, full_refresh=True)
    assert full.read == 3


def test_a_custom_query_is_read_instead_of_a_table(
    database: tuple[str, str, str], tmp_path: Path
) -> None:
    _, url, name = database
    query = f"SELECT id, name FROM {name} WHERE active"
    project = sql_project(tmp_path, url, "active_clients", "auto", query=query)

    project.load("crm", "active_clients")

    assert project.sql("SELECT id, name FROM raw.crm__active_clients") == [(1, "Zoë Ångström")]


@pytest.mark.parametrize("reader", ["auto", "sqlalchemy"])
def test_a_renamed_table_is_named_with_the_fix(
    database: tuple[str, str, str], tmp_path: Path, reader: str
) -> None:
    _, url, name = database
    project = sql_project(tmp_path, url, f"gone_{name}", reader)

    with pytest.raises(LoadError, match=f"table 'gone_{name}' does not exist in .*Fix: correct"):
        project.load("crm", f"gone_{name}")


@pytest.mark.parametrize("reader", ["auto", "sqlalchemy"])
def test_a_server_that_is_down_is_named_without_its_password(
    tmp_path: Path, reader: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("DB_PW", "Down-Pw-9@x")
    url = "postgresql://postgres:${DB_PW}@127.0.0.1:9/test"
    project = sql_project(tmp_path, url, "clients", reader)

    with pytest.raises(LoadError) as caught:
        project.load("crm", "clients")

    message = str(caught.value)
    assert "source crm, table clients: cannot read from postgresql://postgres:***@127.0.0.1:9" in (
        message
    )
    assert "Down-Pw" not in message and "reachable" in message


def test_declared_types_say_what_sqlite_cannot(tmp_path: Path) -> None:
    engine = sa.create_engine(f"sqlite:///{tmp_path}/crm.sqlite")
    with engine.begin() as conn:
        conn.execute(sa.text("CREATE TABLE clients (id INTEGER, amount NUMERIC, active BOOLEAN)"))
        conn.execute(sa.text("INSERT INTO clients VALUES (1, 12.5, 1), (2, NULL, 0)"))
    engine.dispose()
    columns = {"amount": {"type": "DECIMAL(12,2)"}, "active": {"type": "BOOLEAN"}}
    project = sql_project(tmp_path, "sqlite:///crm.sqlite", "clients", "auto", columns=columns)

    project.load("crm", "clients")

    types = project.types("raw.crm__clients")
    assert (types["amount"], types["active"]) == ("DECIMAL(12,2)", "BOOLEAN")
    assert project.sql("SELECT amount, active FROM raw.crm__clients ORDER BY id") == [
        (Decimal("12.50"), True),
        (None, False),
    ]


def test_sqlalchemy_query_types_do_not_depend_on_the_first_batch(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    import connectors.sql

    engine = sa.create_engine(f"sqlite:///{tmp_path}/crm.sqlite")
    with engine.begin() as conn:
        conn.execute(sa.text("CREATE TABLE t (id INTEGER, note TEXT)"))
        conn.execute(sa.text("INSERT INTO t VALUES (1, NULL), (2, NULL), (3, 'late')"))
    engine.dispose()
    monkeypatch.setattr(connectors.sql, "CHUNK_ROWS", 2)
    project = sql_project(
        tmp_path, "sqlite:///crm.sqlite", "notes", "auto", query="SELECT * FROM t ORDER BY id"
    )

    project.load("crm", "notes")

    assert project.sql("SELECT id, note FROM raw.crm__notes ORDER BY id") == [
        (1, None),
        (2, None),
        (3, "late"),
    ]


def test_a_cursor_that_is_not_a_column_and_a_query_the_scanner_cannot_run(
    tmp_path: Path,
) -> None:
    engine = sa.create_engine(f"sqlite:///{tmp_path}/crm.sqlite")
    with engine.begin() as conn:
        conn.execute(sa.text("CREATE TABLE t (id INTEGER)"))
        conn.execute(sa.text("INSERT INTO t VALUES (1)"))
    engine.dispose()
    project = sql_project(tmp_path, "sqlite:///crm.sqlite", "t", "sqlalchemy", cursor="updted")
    with pytest.raises(LoadError, match="the cursor `updted` is not a column"):
        project.load("crm", "t")
    project = sql_project(tmp_path, "sqlite:///crm.sqlite", "q", "scanner", query="SELECT 1")
    with pytest.raises(LoadError, match="scanner cannot run a query on sqlite.*reader: sqlalchemy"):
        project.load("crm", "q")
