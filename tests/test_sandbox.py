"""Read-only means read-only: every reader goes through the sandbox, attacked statement by
statement, and each audience reads its own masked copy."""

from __future__ import annotations

import hashlib
import re
import subprocess
import sys
from pathlib import Path

import duckdb
import pytest
import yaml

import hub
from hub.config import ConfigError, load_config
from hub.runner import materialize
from hub.sandbox import SandboxQueryError, SandboxRefused
from tests.conftest import DemoProject, steward


def fingerprint(root: Path) -> dict[str, str]:
    """Every file of the project (sources, store, copies, outbox, config) by content hash."""
    return {
        str(p.relative_to(root)): hashlib.sha256(p.read_bytes()).hexdigest()
        for p in sorted(root.rglob("*"))
        if p.is_file() and ".dagster" not in p.parts
    }


ATTACKS = {
    "attach": "ATTACH '{root}/x.duckdb' AS x (READ_WRITE)",
    "attach the store read-write": "ATTACH '{store}' AS w (READ_WRITE)",
    "attach the agents' copy": "ATTACH '{root}/data/agent.duckdb' AS a (READ_WRITE)",
    "detach": "DETACH hub",
    "use": "USE memory",
    "copy to": "COPY (SELECT 1 AS x) TO '{root}/hub.yaml'",
    "copy from": "COPY agents.drafts FROM '{root}/evil.csv'",
    "export database": "EXPORT DATABASE '{root}/exported'",
    "install": "INSTALL httpfs",
    "load": "LOAD fts",
    "set": "SET enable_external_access = true",
    "reset": "RESET lock_configuration",
    "pragma": "PRAGMA memory_limit = '64GB'",
    "call": "CALL pragma_version()",
    "checkpoint": "CHECKPOINT",
    "create": "CREATE TABLE memory.main.t AS SELECT 1",
    "create temp": "CREATE TEMP TABLE t AS SELECT 1",
    "insert": "INSERT INTO agents.drafts (draft_id) VALUES ('D-0000000000')",
    "update": "UPDATE agents.drafts SET status = 'approved'",
    "delete": "DELETE FROM meta.audit_log",
    "drop": "DROP TABLE agents.drafts",
    "two statements": "SELECT 1; UPDATE agents.drafts SET status = 'approved'",
    "a comment hiding a second one": "SELECT 1 -- harmless\n; DROP TABLE agents.drafts",
    "read_csv": "SELECT * FROM read_csv('/etc/passwd')",
    "read_text": "SELECT * FROM read_text('/etc/passwd')",
    "glob": "SELECT * FROM glob('/etc/*')",
    "a file as a table": "SELECT * FROM '{root}/hub.yaml'",
    "sniff_csv": "SELECT * FROM sniff_csv('/etc/passwd')",
    "a table function running SQL": "SELECT * FROM query('ATTACH ''{root}/q.duckdb'' AS q')",
    "logging to a file": "SELECT * FROM enable_logging(storage='file', storage_path='{root}/l')",
    "profiling": "SELECT * FROM enable_profiling()",
    "a checkpoint": "SELECT * FROM force_checkpoint()",
}


REFUSED = r"only one SELECT|not allowed here|disabled by configuration|has been locked"


@pytest.mark.parametrize("audience", ["analyst", "steward", "agent"])
def test_every_write_file_and_setting_path_is_refused(
    built_demo: DemoProject, audience: str
) -> None:
    root, store = built_demo.root, built_demo.root / "data" / "hub.duckdb"
    hub.sql("SELECT 1", audience=audience)  # the analyst's copy is published on first read
    before = fingerprint(root)
    for kind, template in ATTACKS.items():
        query = template.format(root=root, store=store)
        with pytest.raises((SandboxRefused, SandboxQueryError, duckdb.Error)) as refused:
            hub.sql(query, audience=audience)
        message = str(refused.value)
        # a file named as a table is not even looked up: replacement scans are off
        expected = "does not exist" if kind == "a file as a table" else REFUSED
        assert re.search(expected, message), (kind, message)
    assert fingerprint(root) == before  # no file was written, changed or created


def test_the_attack_chain_from_the_cli_changes_nothing(built_demo: DemoProject) -> None:
    """The reported exploit: attach a scratch file, switch to it, drop the store, re-attach
    the store read-write and approve a draft; then overwrite hub.yaml with COPY."""
    root, store = built_demo.root, built_demo.root / "data" / "hub.duckdb"
    hub.sql("SELECT 1")
    before = fingerprint(root)
    chain = [
        f"ATTACH '{root}/x.duckdb' AS x (READ_WRITE); USE x; DETACH hub; "
        f"ATTACH '{store}' AS w (READ_WRITE); "
        "UPDATE w.agents.drafts SET status = 'approved'",
        f"COPY (SELECT 'pwned') TO '{root}/hub.yaml'",
    ]
    for query in chain:
        for audience in ("analyst", "steward"):
            result = subprocess.run(
                [sys.executable, "-m", "hub.cli", "sql", query, "--as", audience],
                cwd=root,
                capture_output=True,
                text=True,
                timeout=60,
            )
            assert result.returncode == 2
            assert "only one SELECT statement is allowed" in result.stdout
            assert "Traceback" not in result.stdout + result.stderr
    assert fingerprint(root) == before
    assert set(steward("SELECT status FROM agents.drafts").status) == {"pending"}


def test_a_notebook_connection_is_the_same_sandbox(built_demo: DemoProject) -> None:
    """`hub.connect()` hands out no raw DuckDB connection: DuckDB keeps the attached file and
    its `.wal` writable by COPY even with external access off (a WAL written there would be
    replayed into the store by the next writer)."""
    root = built_demo.root
    hub.sql("SELECT 1")  # the analyst's copy is published on first read
    before = fingerprint(root)
    for audience in ("analyst", "steward", "agent"):
        with hub.connect(audience=audience) as con:
            attached = con.execute("SELECT path FROM duckdb_databases() WHERE path IS NOT NULL")
            [(path,)] = attached.fetchall()
            for attack in (
                f"COPY (SELECT from_hex('00')) TO '{path}.wal' (FORMAT blob)",
                "SET enable_external_access = true",
                f"ATTACH '{root}/data/hub.duckdb' AS s",
                "ATTACH ':memory:' AS m",
                "SET VARIABLE v = 1",
                "PRAGMA enable_profiling",
            ):
                with pytest.raises(SandboxRefused):
                    con.execute(attack)
            assert not hasattr(con, "read_csv") and not hasattr(con, "sql_query")
            assert con.execute("SELECT 42 AS x").df().x[0] == 42
    assert fingerprint(root) == before
    with hub.connect() as con:
        files = {r[0] for r in con.execute("SELECT path FROM duckdb_databases()").fetchall()}
    assert str(root / "data" / "analyst.duckdb") in files
    assert str(root / "data" / "hub.duckdb") not in files  # masking holds


def test_each_audience_reads_its_own_copy_masked_by_its_policy(built_demo: DemoProject) -> None:
    clear = steward("SELECT customer_id, email, phone FROM unified.customer ORDER BY 1")
    analyst = hub.sql("SELECT customer_id, email, phone FROM unified.customer ORDER BY 1")
    agent = hub.sql("SELECT customer_id, email, phone FROM clients ORDER BY 1", audience="agent")

    assert list(analyst.customer_id) == list(clear.customer_id)
    for seen, real in zip(analyst.itertuples(), clear.itertuples(), strict=True):
        assert re.fullmatch(r"[0-9a-f]{16}", seen.email) and real.email not in seen.email
        assert seen.phone == "***" + re.sub(r"\D", "", real.phone)[-4:]
    for seen in agent.itertuples():
        real = clear.set_index("customer_id").loc[seen.customer_id]
        assert seen.email == real.email[0] + "***@" + real.email.rpartition("@")[2]
    # the salted hash is the same everywhere, so the analyst can still join on it
    joined = hub.sql(
        "SELECT count(*) AS n FROM serve.clients s JOIN unified.customer c USING (email)"
    )
    assert joined.n[0] == 12
    # the analyst reads unified, serve and the check results, and nothing raw
    layers = set(hub.tables().layer)
    assert layers == {"meta", "serve", "unified"}
    assert set(hub.tables(audience="steward").layer) >= {"raw", "rejects", "agents", "meta"}
    with pytest.raises(SandboxQueryError, match="reads the schemas meta, serve, unified"):
        hub.sql("SELECT * FROM raw.crm__clients")
    assert len(hub.sql("SELECT * FROM meta.check_results")) == 46


def test_the_analyst_copy_follows_the_store(built_demo: DemoProject) -> None:
    def evaluations() -> int:
        return hub.sql("SELECT count(*) AS n FROM meta.check_results").n[0]

    before = evaluations()
    assert evaluations() == before  # nothing changed: the copy is reused
    assert materialize(built_demo.config_path, ["raw/crm__clients"]).success
    assert evaluations() == before + 6  # republished on read: the store moved on


def test_a_pii_class_without_a_policy_is_a_config_error(tmp_path: Path) -> None:
    path = tmp_path / "hub.yaml"
    path.write_text(
        "sources:\n  crm:\n    kind: files\n    path: x\n    tables:\n      clients:\n"
        "        columns: {ssn: {pii: national_id}}\n"
    )
    with pytest.raises(ConfigError) as error:
        load_config(path)
    message = str(error.value)
    assert "sources.crm.tables.clients.columns.ssn.pii" in message
    assert "PII class `national_id` has no policy for the `agent` audience" not in message
    assert "has no policy for the `analyst` audience" in message
    assert "governance.policies.analyst" in message


def test_pii_classes_follow_the_sql_of_products(built_demo: DemoProject) -> None:
    """Renaming, computing or re-serving a PII column keeps it masked; a product whose
    columns cannot be traced is refused rather than published on a guess."""
    config = yaml.safe_load(built_demo.config_path.read_text())
    config["serve"] |= {
        "renamed": {
            "audience": "analyst",
            "sql": "SELECT customer_id, email AS contact, lower(phone) AS tel, "
            "name || ' <' || email || '>' AS label FROM unified.customer",
        },
        "reserved": {"audience": "analyst", "sql": "SELECT customer_id, email FROM serve.clients"},
        "untraceable": {
            "audience": "analyst",
            "sql": "SELECT COLUMNS('e.*') FROM unified.customer",
        },
    }
    built_demo.config_path.write_text(yaml.safe_dump(config, sort_keys=False))

    report = materialize(
        built_demo.config_path, ["serve/renamed", "serve/reserved", "serve/untraceable"]
    )

    assert set(report.failures) == {"serve__untraceable"}
    why = report.failures["serve__untraceable"]
    assert "serve.untraceable: the columns ['customer_id', 'name', 'email'" in why
    assert "cannot be traced to their sources" in why
    assert "pii: none" in why
    renamed = hub.sql("SELECT contact, tel, label FROM serve.renamed")
    clear = steward("SELECT email, phone FROM unified.customer")
    assert renamed.contact.str.fullmatch(r"[0-9a-f]{16}").all()
    assert renamed.label.str.fullmatch(r"[0-9a-f]{16}").all()  # name + email: as email
    assert renamed.tel.str.fullmatch(r"\*\*\*\d{4}").all()
    assert hub.sql("SELECT email FROM serve.reserved").email.str.fullmatch(r"[0-9a-f]{16}").all()
    shown = " ".join(renamed.astype(str).values.ravel())
    assert not any(e in shown for e in clear.email)
    assert "untraceable" not in set(hub.tables().name)


def test_check_samples_of_several_columns_are_masked_by_the_strictest_policy() -> None:
    from hub.config import load_config
    from hub.demo import DEMO_CONFIG
    from hub.governance import mask_check_details

    config = load_config(DEMO_CONFIG)
    details = {"unexpected_sample": ["('Acme', 'jane@acme.com')"], "unexpected_count": 1}
    shown = mask_check_details(
        config,
        "raw.crm__contacts",
        {"full_name": "name", "email": "email"},
        {"column_list": ["full_name", "email"]},
        details,
    )
    assert shown["unexpected_count"] == 1
    assert "jane" not in str(shown) and re.fullmatch(r"[0-9a-f]{16}", shown["unexpected_sample"][0])


SCHEMA = {
    "raw": {"crm__clients": {"client_id": "VARCHAR", "company": "VARCHAR", "email": "VARCHAR"}},
    "unified": {"customer": {"customer_id": "VARCHAR", "email": "VARCHAR"}},
}


@pytest.mark.parametrize(
    "sql",
    [
        "SELECT c AS x FROM raw.crm__clients c",
        "SELECT to_json(c) AS x FROM raw.crm__clients c",
        "SELECT list(c) AS x FROM raw.crm__clients c",
        "SELECT (c).email AS x FROM raw.crm__clients c",
        "SELECT struct_extract(c, 'email') AS x FROM raw.crm__clients c",
        "SELECT x.email AS x FROM (SELECT c AS x FROM raw.crm__clients c)",
        "SELECT x FROM query('SELECT email AS x FROM raw.crm__clients')",
        "SELECT email AS x FROM query_table('raw.crm__clients')",
        "SELECT billing_email AS x FROM read_csv('demo/billing/accounts*.csv')",
        "SELECT client_id AS a, company AS b FROM raw.crm__clients "
        "UNION ALL BY NAME SELECT email AS b, client_id AS a FROM raw.crm__clients",
        "SELECT d.recipient AS x FROM agents.drafts d",
    ],
)
def test_what_lineage_cannot_follow_is_refused_not_guessed(sql: str) -> None:
    import sqlglot

    from hub.lineage import LineageError, column_sources

    columns = [s.alias_or_name for s in sqlglot.parse_one(sql, dialect="duckdb").selects]
    with pytest.raises(LineageError):
        column_sources(sql, SCHEMA, columns)


def test_lineage_follows_what_it_can() -> None:
    from hub.lineage import column_sources

    sql = (
        "WITH c AS (SELECT email AS e FROM unified.customer) "
        "SELECT e AS contact, upper(e) AS loud, count(*) OVER () AS n, 1 AS one FROM c"
    )
    found = column_sources(sql, SCHEMA, ["contact", "loud", "n", "one"])
    assert found == {
        "contact": {("unified.customer", "email")},
        "loud": {("unified.customer", "email")},
        "n": set(),
        "one": set(),
    }
