"""Loading a source table: lineage, batches, rejects and audit land together, or not at all."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from hub import audit
from hub.config import HubConfig
from hub.load import LoadError, load_table
from hub.store import Store

GOOD_CSV = "id,name\n1,Ann\n2,Bob,surplus\n3,Zoë\n"


def project(tmp_path: Path, csv: str = GOOD_CSV) -> tuple[HubConfig, Store]:
    """A project with one `files` source `crm` whose `clients.csv` holds `csv`."""
    (tmp_path / "crm").mkdir(exist_ok=True)
    (tmp_path / "crm" / "clients.csv").write_text(csv, encoding="utf-8")
    config = HubConfig.model_validate(
        {
            "sources": {
                "crm": {
                    "kind": "files",
                    "path": "crm",
                    "tables": {"clients": {"primary_key": ["id"]}},
                }
            },
            "root": tmp_path,
        }
    )
    return config, Store(tmp_path / "hub.duckdb", lock_timeout=5)


def snapshot(store: Store) -> dict[str, list[tuple]]:
    """Everything a load touches, to compare before and after a failed load (a refusal is
    audited, as `load.refused`, and nothing else)."""
    with store.reader() as con:
        return {
            "raw": con.execute("SELECT * FROM raw.crm__clients ORDER BY id").fetchall(),
            "batches": con.execute("SELECT * FROM meta.batches ORDER BY loaded_at").fetchall(),
            "rejects": con.execute("SELECT * FROM rejects.crm__clients").fetchall(),
            "state": con.execute("SELECT * FROM meta.source_state").fetchall(),
            "audit": con.execute(
                "SELECT * FROM meta.audit_log WHERE action <> 'load.refused' ORDER BY seq"
            ).fetchall(),
        }


def test_load_writes_raw_rows_with_lineage_columns(tmp_path: Path) -> None:
    config, store = project(tmp_path)

    result = load_table(config, store, "crm", "clients", run_id="run-1")

    assert (result.table, result.rows, result.rejected) == ("raw.crm__clients", 2, 1)
    with store.reader() as con:
        rows = con.execute(
            "SELECT id, name, _hub_source, _hub_batch_id, _hub_loaded_at IS NOT NULL, "
            "_hub_origin FROM raw.crm__clients ORDER BY id"
        ).fetchall()
    origin = str(tmp_path / "crm" / "clients.csv")
    assert rows == [
        (1, "Ann", "crm", result.batch_id, True, origin),
        (3, "Zoë", "crm", result.batch_id, True, origin),
    ]


def test_load_records_the_batch_in_meta_batches(tmp_path: Path) -> None:
    config, store = project(tmp_path)

    result = load_table(config, store, "crm", "clients", run_id="run-1")

    with store.reader() as con:
        batches = con.execute(
            "SELECT batch_id, table_name, source, rows, rejected, run_id FROM meta.batches"
        ).fetchall()
    assert batches == [(result.batch_id, "raw.crm__clients", "crm", 2, 1, "run-1")]


def test_load_stores_rejects_with_batch_id_and_reason(tmp_path: Path) -> None:
    config, store = project(tmp_path)

    result = load_table(config, store, "crm", "clients")

    with store.reader() as con:
        rejects = con.execute(
            "SELECT batch_id, source, location, reason, record FROM rejects.crm__clients"
        ).fetchall()
    [(batch_id, source, location, reason, record)] = rejects
    assert (batch_id, source, location, record) == (
        result.batch_id,
        "crm",
        "clients.csv line 3",
        "2,Bob,surplus",
    )
    assert "TOO MANY COLUMNS" in reason


def test_load_appends_a_chained_audit_record(tmp_path: Path) -> None:
    config, store = project(tmp_path)

    result = load_table(config, store, "crm", "clients", run_id="run-1")

    with store.reader() as con:
        [(actor, action, target, details)] = con.execute(
            "SELECT actor, action, target, details FROM meta.audit_log"
        ).fetchall()
        assert audit.verify(con, store.audit_anchor).ok
    assert (actor, action, target) == ("loader", "load", "raw.crm__clients")
    assert json.loads(details) == {
        "batch_id": result.batch_id,
        "write": "replace",
        "rows": 2,
        "read": 3,
        "written": 2,
        "rejected": 1,
        "from": f"{tmp_path / 'crm'}/clients.*",
        "cursor": None,
        "schema_changes": [],
        "run_id": "run-1",
    }


def test_a_reload_replaces_raw_rows_and_keeps_the_history(tmp_path: Path) -> None:
    config, store = project(tmp_path)
    first = load_table(config, store, "crm", "clients")
    (tmp_path / "crm" / "clients.csv").write_text("id,name\n7,Eve\n", encoding="utf-8")

    second = load_table(config, store, "crm", "clients")

    state = snapshot(store)
    with store.reader() as con:
        raw = con.execute("SELECT id, name, _hub_batch_id FROM raw.crm__clients").fetchall()
    assert raw == [(7, "Eve", second.batch_id)]
    assert [b[0] for b in state["batches"]] == [first.batch_id, second.batch_id]
    assert [r[0] for r in state["rejects"]] == [first.batch_id]
    assert len(state["audit"]) == 2


def delete_the_files(tmp_path: Path) -> None:
    (tmp_path / "crm" / "clients.csv").unlink()


def drop_the_primary_key_column(tmp_path: Path) -> None:
    (tmp_path / "crm" / "clients.csv").write_text("name\nMallory\n", encoding="utf-8")


@pytest.mark.parametrize("breakage", [delete_the_files, drop_the_primary_key_column])
def test_a_failed_load_names_the_table_and_keeps_the_last_good_data(
    tmp_path: Path, breakage
) -> None:
    config, store = project(tmp_path)
    load_table(config, store, "crm", "clients")
    before = snapshot(store)
    breakage(tmp_path)

    with pytest.raises(LoadError) as caught:
        load_table(config, store, "crm", "clients")

    assert "source crm, table clients" in str(caught.value)
    assert "Fix:" in str(caught.value)
    assert snapshot(store) == before


def test_a_load_failing_inside_its_transaction_applies_nothing(tmp_path: Path) -> None:
    """The raw table is swapped first; a later failure in the same transaction undoes it."""
    config, store = project(tmp_path)
    load_table(config, store, "crm", "clients")
    with store.writer() as con:  # a rejects table someone reshaped: the reject insert fails
        con.execute("DROP TABLE rejects.crm__clients")
        con.execute("CREATE TABLE rejects.crm__clients (note VARCHAR)")
    before = snapshot(store)
    (tmp_path / "crm" / "clients.csv").write_text("id,name\n8,Finn,surplus\n9,Gus\n")

    with pytest.raises(LoadError, match="source crm, table clients: the load failed"):
        load_table(config, store, "crm", "clients")

    assert snapshot(store) == before


def test_an_empty_read_keeps_the_last_good_data(tmp_path: Path) -> None:
    config, store = project(tmp_path)
    load_table(config, store, "crm", "clients")
    before = snapshot(store)
    (tmp_path / "crm" / "clients.csv").write_text("id,name\n", encoding="utf-8")

    with pytest.raises(LoadError, match="source crm, table clients: .* returned no rows"):
        load_table(config, store, "crm", "clients")

    assert snapshot(store) == before
