"""`hub export`: a product written out as its audience sees it (no clear e-mail in an analyst's
or an agent's file), with its contract beside it, audited; refused to an audience that may not
read it and on unproven data."""

from __future__ import annotations

import hashlib
import json
import os
from pathlib import Path

import duckdb
import pytest
import yaml
from typer.testing import CliRunner, Result

from hub import audit
from hub.cli import app
from hub.export import ExportError
from hub.mcp_tools import ProductReader
from hub.store import batch_inputs, latest_batch, record_batch
from tests.conftest import DemoProject, steward


def export(product: str, *args: str) -> Result:
    """`hub export PRODUCT ARGS --by ada` in process."""
    return CliRunner().invoke(app, ["export", product, *args, "--by", "ada"])


def test_an_export_is_masked_for_its_audience_audited_and_refused_otherwise(
    built_demo: DemoProject, tmp_path: Path
) -> None:
    clear = steward("SELECT email FROM serve.clients ORDER BY customer_id").email.tolist()
    formats = {"steward": "csv", "analyst": "parquet", "agent": "csv"}
    for audience, fmt in formats.items():
        done = export(
            "clients", "--to", str(tmp_path / audience), "--as", audience, "--format", fmt
        )
        assert done.exit_code == 0, done.output
    files = {a: tmp_path / a / f"clients.{f}" for a, f in formats.items()}
    # the steward's file holds the clear e-mails, so not finding them elsewhere means something
    assert all(address.encode() in files["steward"].read_bytes() for address in clear)
    for audience in ("analyst", "agent"):
        content = files[audience].read_bytes()
        assert not any(address.encode() in content for address in clear), audience
    with duckdb.connect() as con:  # Parquet pages are compressed: look at every value too
        read = {
            a: con.execute(f"SELECT * FROM read_{formats[a]}(?) ORDER BY customer_id", [str(f)])
            .df()
            .astype(str)
            for a, f in files.items()
        }
    assert read["steward"].email.tolist() == clear
    assert not read["analyst"].isin(clear).any().any()
    assert all(len(v) == 16 and "@" not in v for v in read["analyst"].email)  # salted hashes
    assert all(m.startswith(c[0] + "***@") for m, c in zip(read["agent"].email, clear, strict=True))

    contract = yaml.safe_load((tmp_path / "agent" / "clients.odcs.yaml").read_text())
    assert contract["servers"] == [
        {"server": "export", "type": "local", "path": "clients.csv", "format": "csv"}
    ]
    assert contract["customProperties"] == [{"property": "audience", "value": "agent"}]

    records = steward(
        "SELECT actor, target, details FROM meta.audit_log WHERE action = 'product.export' "
        "ORDER BY seq"
    )
    assert list(records.actor) == ["human:ada"] * 3 and set(records.target) == {"serve.clients"}
    for (audience, file), details in zip(files.items(), records.details, strict=True):
        said = json.loads(details)
        assert (said["audience"], said["rows"]) == (audience, len(clear))
        assert said["sha256"] == hashlib.sha256(file.read_bytes()).hexdigest()
        assert said["files"][0] == str(file)
    with built_demo.store.reader() as con:
        assert audit.verify(con, built_demo.store.audit_anchor).ok

    config = built_demo.config_path
    config.write_text(
        config.read_text().replace(
            "\nserve:\n",
            "\nserve:\n  ledger:\n    audience: steward\n"
            "    sql: SELECT account_id FROM raw.billing__accounts\n",
        )
    )
    refused = export("ledger", "--to", str(tmp_path / "ledger"), "--as", "analyst")
    assert "published for steward, and may be exported for steward" in str(refused.exception)
    # a blocking check that never ran on serve.clients: its data is not proven any more
    config.write_text(
        config.read_text().replace(
            "  serve.clients:\n",
            "  serve.clients:\n    - expect: expect_column_values_to_not_be_null\n"
            "      kwargs: {column: name}\n",
        )
    )
    refused = export("clients", "--to", str(tmp_path / "unproven"), "--as", "analyst")
    assert "foundation gate closed" in str(refused.exception)
    assert "check not_null__name has not run on the current data" in str(refused.exception)
    assert not (tmp_path / "unproven").exists() and not (tmp_path / "ledger").exists()
    assert len(steward("SELECT * FROM meta.audit_log WHERE action = 'product.export'")) == 3


def exports() -> list[dict]:
    """The details of every `product.export` record, oldest first."""
    records = steward("SELECT details FROM meta.audit_log WHERE action = 'product.export'")
    return [json.loads(details) for details in records.details]


def test_an_export_replaces_nothing_unasked_and_lands_whole_with_its_record_or_not_at_all(
    built_demo: DemoProject, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    folder = tmp_path / "x"
    (folder / "clients.odcs.yaml").mkdir(parents=True)
    (folder / "clients.csv").write_text("OLD\n")
    as_steward = ("--to", str(folder), "--format", "csv", "--as", "steward")

    refused = export("clients", *as_steward)
    assert isinstance(refused.exception, ExportError)
    assert f"{folder / 'clients.csv'} already exists" in str(refused.exception)
    assert "--overwrite" in str(refused.exception)
    refused = export("clients", *as_steward, "--overwrite")
    assert isinstance(refused.exception, ExportError)
    assert f"{folder / 'clients.odcs.yaml'} exists and is not a regular file" in str(
        refused.exception
    )
    assert (folder / "clients.csv").read_text() == "OLD\n"
    assert sorted(p.name for p in folder.iterdir()) == ["clients.csv", "clients.odcs.yaml"]
    assert exports() == []

    # the second rename fails after the first was done: the first is taken back, no record
    (folder / "clients.odcs.yaml").rmdir()
    (folder / "clients.odcs.yaml").write_text("OLD CONTRACT\n")
    replace = os.replace

    def failing(source: str | Path, target: str | Path) -> None:
        if Path(source).name.startswith(".clients.odcs.yaml.") and str(source).endswith(".tmp"):
            raise OSError(28, "No space left on device")
        replace(source, target)

    monkeypatch.setattr(os, "replace", failing)
    refused = export("clients", *as_steward, "--overwrite")
    assert isinstance(refused.exception, ExportError)
    assert "No space left on device" in str(refused.exception)
    assert (folder / "clients.csv").read_text() == "OLD\n"
    assert (folder / "clients.odcs.yaml").read_text() == "OLD CONTRACT\n"
    assert sorted(p.name for p in folder.iterdir()) == ["clients.csv", "clients.odcs.yaml"]
    assert exports() == []

    monkeypatch.setattr(os, "replace", replace)
    done = export("clients", *as_steward, "--overwrite")
    assert done.exit_code == 0, done.output
    assert sorted(p.name for p in folder.iterdir()) == ["clients.csv", "clients.odcs.yaml"]
    [said] = exports()
    content = (folder / "clients.csv").read_bytes()
    assert said["sha256"] == hashlib.sha256(content).hexdigest() and b"OLD" not in content
    assert (
        said["batch_id"]
        == steward(
            "SELECT batch_id FROM meta.batches WHERE table_name = 'serve.clients' "
            "ORDER BY seq DESC LIMIT 1"
        ).batch_id[0]
    )


def test_an_export_for_agents_is_refused_while_their_copy_holds_an_older_batch(
    built_demo: DemoProject, tmp_path: Path
) -> None:
    # serve.clients rebuilt (and checked) in the store since the pipeline published the
    # agents' copy: what `hub run` does, without running it
    with built_demo.store.transaction() as con:
        old = latest_batch(con, "serve.clients")
        inputs = batch_inputs(con, "serve.clients")
        con.execute("UPDATE serve.clients SET name = 'Rebuilt ' || name")
        rows = con.execute("SELECT count(*) FROM serve.clients").fetchone()[0]
        record_batch(con, "rebuilt", "serve.clients", "test", rows, 0, None, inputs=inputs)
        con.execute(
            "UPDATE meta.check_results SET data_version = replace(data_version, ?, 'rebuilt') "
            "WHERE table_name = 'serve.clients'",
            [old],
        )

    refused = export("clients", "--to", str(tmp_path / "agent"), "--as", "agent")
    assert isinstance(refused.exception, ExportError)
    message = str(refused.exception)
    assert f"the agents' copy holds batch {old}, not the current batch rebuilt" in message
    assert "hub run" in message and "--as analyst" in message
    assert not (tmp_path / "agent").exists() and exports() == []
    reader = ProductReader(built_demo.config, "agent")  # the same rule in `hub mcp`
    try:
        problems = reader.gates(["clients"])["clients"].problems
    finally:
        reader.close()
    assert any("no longer current" in problem for problem in problems)

    done = export("clients", "--to", str(tmp_path / "analyst"), "--as", "analyst")
    assert done.exit_code == 0, done.output
    [said] = exports()
    assert said["batch_id"] == "rebuilt"
    with duckdb.connect() as con:
        names = con.execute(
            "SELECT name FROM read_parquet(?)", [str(tmp_path / "analyst" / "clients.parquet")]
        ).fetchall()
    assert names and all(name.startswith("Rebuilt ") for (name,) in names)
