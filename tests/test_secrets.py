"""Secrets never printed: passwords with `@ : / # % ?` in `${ENV}` database URLs connect,
and no part of them reaches the CLI, the Dagster event log or the audit trail."""

from __future__ import annotations

import os
import subprocess
import sys
import uuid
from collections.abc import Iterator
from pathlib import Path

import duckdb
import pytest
import sqlalchemy as sa

from hub.config import ConfigError, load_config
from hub.runner import materialize
from tests.conftest import require_service

PASSWORD = "p@ss:w/o#r%d?Secr3tTail"
FRAGMENTS = (PASSWORD, "Secr3tTail", "w/o#r", "ss:w/o", "p%40ss")
"The password and the pieces a mis-parsed URL used to show (`...@cd/Secr3tTail@host`)."
USER = "hub_secret"
SERVERS = {
    "postgresql": ("PostgreSQL", 5432, "postgresql://postgres:${DB_PASSWORD}@127.0.0.1:5432/"),
    "mariadb": ("MariaDB", 3306, f"mysql+pymysql://{USER}:${{DB_PASSWORD}}@127.0.0.1:3306/"),
}


@pytest.fixture(params=list(SERVERS))
def server(request: pytest.FixtureRequest) -> Iterator[tuple[str, str]]:
    """(URL template with `${DB_PASSWORD}`, a table of 3 rows) on a real server; on MariaDB a
    user whose password is PASSWORD (PostgreSQL here trusts every local connection)."""
    name, port, url = SERVERS[request.param]
    require_service(name, "127.0.0.1", port)
    table = f"secret_{uuid.uuid4().hex[:8]}"
    admin = sa.create_engine(
        "postgresql+psycopg2://postgres@127.0.0.1:5432/test"
        if request.param == "postgresql"
        else "mysql+pymysql://root@127.0.0.1:3306/test"
    )
    with admin.begin() as conn:
        conn.execute(sa.text(f"CREATE TABLE {table} (id INTEGER PRIMARY KEY, label VARCHAR(20))"))
        conn.execute(sa.text(f"INSERT INTO {table} VALUES (1, 'a'), (2, 'b'), (3, 'c')"))
        if request.param == "mariadb":
            for host in ("%", "localhost", "127.0.0.1"):
                conn.execute(sa.text(f"DROP USER IF EXISTS '{USER}'@'{host}'"))
                conn.execute(
                    sa.text(f"CREATE USER '{USER}'@'{host}' IDENTIFIED BY :pw"), {"pw": PASSWORD}
                )
                conn.execute(sa.text(f"GRANT SELECT ON test.* TO '{USER}'@'{host}'"))
    try:
        yield url, table
    finally:
        with admin.begin() as conn:
            conn.execute(sa.text(f"DROP TABLE IF EXISTS {table}"))
        admin.dispose()


def project(root: Path, url: str, table: str) -> Path:
    root.mkdir(parents=True, exist_ok=True)
    path = root / "hub.yaml"
    path.write_text(
        "project: secrets\n"
        f"sources:\n  db:\n    kind: sql\n    url: {url}\n"
        f"    tables:\n      {table}: {{primary_key: id}}\n"
    )
    return path


def leaks(*texts: str) -> list[str]:
    return [f for f in FRAGMENTS for t in texts if f in t]


def dagster_files(home: Path) -> str:
    """Every byte Dagster stored (run and event databases, logs), as text."""
    return "".join(
        p.read_bytes().decode("utf-8", "replace") for p in home.rglob("*") if p.is_file()
    )


@pytest.mark.slow  # runs Dagster
def test_a_password_with_url_characters_connects_and_is_never_shown(
    server: tuple[str, str], tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    url, table = server
    home = tmp_path / ".dagster"
    monkeypatch.setenv("DAGSTER_HOME", str(home))
    monkeypatch.setenv("DB_PASSWORD", PASSWORD)

    # the right password: the URL parses, the table loads, lineage shows no password
    good = project(tmp_path, url + "test", table)
    report = materialize(good)
    assert report.success, report.failures

    # a wrong password (MariaDB refuses it) and a wrong database (PostgreSQL): the load
    # fails, the CLI says why, and nothing of the password is anywhere
    env = {**os.environ, "DB_PASSWORD": PASSWORD.replace("Tail", "Wrong") + "Secr3tTail"}
    bad = project(tmp_path / "bad", url + "no_such_database", table)
    cli = subprocess.run(
        [sys.executable, "-m", "hub.cli", "run", "--config", str(bad)],
        capture_output=True,
        text=True,
        timeout=120,
        env=env,
        cwd=tmp_path,
    )
    assert cli.returncode == 1, cli.stdout + cli.stderr
    shown = " ".join(cli.stdout.split())
    assert "cannot read from" in shown and ":***@127.0.0.1" in shown

    con = duckdb.connect(str(tmp_path / "data" / "hub.duckdb"), read_only=True)
    try:
        trail = " ".join(r[0] for r in con.execute("SELECT details FROM meta.audit_log").fetchall())
        origins = con.execute(f'SELECT DISTINCT _hub_origin FROM raw."db__{table}"').fetchall()
    finally:
        con.close()
    assert origins and all(":***@" in o[0] for o in origins)
    assert leaks(cli.stdout, cli.stderr, trail, dagster_files(home)) == []


def test_a_url_from_the_environment_with_an_unencoded_at_is_refused(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("DATABASE_URL", f"postgresql://postgres:{PASSWORD}@127.0.0.1:5432/test")
    path = tmp_path / "hub.yaml"
    path.write_text(
        "sources:\n  db:\n    kind: sql\n    url: ${DATABASE_URL}\n    tables: {t: {}}\n"
    )
    with pytest.raises(ConfigError, match="more than one `@`, so its user or password") as error:
        load_config(path)
    assert leaks(str(error.value)) == []


def test_a_password_written_in_hub_yaml_is_refused(tmp_path: Path) -> None:
    path = tmp_path / "hub.yaml"
    path.write_text(
        "sources:\n  db:\n    kind: sql\n    url: postgresql://u:hunter2@h/db\n"
        "    tables: {t: {}}\n"
    )
    with pytest.raises(ConfigError, match=r"sources\.db\.url: the URL has a password written"):
        load_config(path)


@pytest.mark.slow  # runs Dagster
def test_a_password_in_an_api_url_from_the_environment_never_reaches_dagster(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """urllib refuses user-info in a URL with an error quoting it (`nonnumeric port:
    'S3cretPW99@localhost'`); the failure reaches Dagster scrubbed."""
    home = tmp_path / ".dagster"
    monkeypatch.setenv("DAGSTER_HOME", str(home))
    monkeypatch.setenv("API_URL", "http://svc:S3cretPW99@127.0.0.1:9/")
    path = tmp_path / "hub.yaml"
    path.write_text("sources:\n  api:\n    kind: http\n    url: ${API_URL}\n    tables: {t: {}}\n")

    report = materialize(path)

    assert not report.success
    why = report.failures["raw__api__t"]
    assert "source api, table t" in why and "S3cretPW99" not in why
    assert "S3cretPW99" not in dagster_files(home)
