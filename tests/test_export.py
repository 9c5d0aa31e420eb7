"""`hub export`: a product written out as its audience sees it (no clear e-mail in an analyst's
or an agent's file), with its contract beside it, audited; refused to an audience that may not
read it and on unproven data."""

from __future__ import annotations

import hashlib
import json
from pathlib import Path

import duckdb
import yaml
from typer.testing import CliRunner, Result

from hub import audit
from hub.cli import app
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
