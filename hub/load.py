"""Load one source table into `raw.<source>__<table>`: all of it, or none of it.

The connector reads first, outside any lock. Then one transaction swaps the raw table,
appends the rejected rows to `rejects.<source>__<table>` with the batch id and reason,
records the batch in `meta.batches` and writes the audit record. A failure anywhere leaves
the previous raw table untouched.
"""

from __future__ import annotations

from dataclasses import dataclass

import duckdb
import pyarrow as pa

from connectors import Extract, SourceReadError, reader_for
from hub import audit
from hub.config import HubConfig
from hub.store import Store, new_batch_id, now, replace_table, table_ref

_REJECTS_DDL = (
    "CREATE TABLE IF NOT EXISTS {table} (batch_id VARCHAR, source VARCHAR, "
    "location VARCHAR, reason VARCHAR, record VARCHAR, rejected_at TIMESTAMPTZ)"
)


class LoadError(Exception):
    """A load was refused; the message names the source, the table and the fix."""


@dataclass(frozen=True)
class LoadResult:
    table: str
    batch_id: str
    rows: int
    rejected: int
    location: str
    columns: list[str]


def raw_table_name(source: str, table: str) -> str:
    return f"{source}__{table}"


def load_table(
    config: HubConfig, store: Store, source: str, table: str, run_id: str | None = None
) -> LoadResult:
    source_config = config.sources[source]
    table_config = source_config.tables[table]
    read = reader_for(source_config.kind)
    try:
        extract: Extract = read(source_config, source, table, table_config, config.root)
    except SourceReadError as exc:
        raise LoadError(str(exc)) from exc
    if extract.rows.num_rows == 0:
        raise LoadError(
            f"source {source}, table {table}: {extract.location} returned no rows, so the "
            "previous data is kept (an empty read is far more often a broken export than an "
            "empty table). Fix: check the source, then reload."
        )
    missing = [c for c in table_config.primary_key if c not in extract.rows.column_names]
    if missing:
        raise LoadError(
            f"source {source}, table {table}: primary key column(s) {missing} not in the data "
            f"(columns: {extract.rows.column_names}). Fix: correct `primary_key` in hub.yaml; "
            "the previous data is kept."
        )
    name = raw_table_name(source, table)
    batch_id = new_batch_id()
    rows = extract.rows
    try:
        _write(store, source, name, rows, extract, batch_id, run_id)
    except duckdb.Error as exc:
        raise LoadError(
            f"source {source}, table {table}: the store refused the load ({exc}); nothing "
            "was applied and the previous data is kept. Fix the cause above and reload."
        ) from exc
    return LoadResult(
        table=f"raw.{name}",
        batch_id=batch_id,
        rows=rows.num_rows,
        rejected=len(extract.rejects),
        location=extract.location,
        columns=extract.rows.column_names,
    )


def _write(
    store: Store,
    source: str,
    name: str,
    rows: pa.Table,
    extract: Extract,
    batch_id: str,
    run_id: str | None,
) -> None:
    """One transaction: swap the raw table, keep the rejects, record the batch, audit."""
    with store.transaction() as con:
        replace_table(
            con,
            "raw",
            name,
            rows,
            source=source,
            run_id=run_id,
            rejected=len(extract.rejects),
            batch_id=batch_id,
            constants={"_hub_source": source, "_hub_batch_id": batch_id, "_hub_loaded_at": now()},
        )
        rejects = table_ref("rejects", name)
        con.execute(_REJECTS_DDL.format(table=rejects))
        if extract.rejects:
            con.executemany(
                f"INSERT INTO {rejects} VALUES (?, ?, ?, ?, ?, ?)",
                [[batch_id, source, r.where, r.reason, r.record, now()] for r in extract.rejects],
            )
        audit.append(
            con,
            actor="loader",
            action="load",
            target=f"raw.{name}",
            details={
                "batch_id": batch_id,
                "rows": rows.num_rows,
                "rejected": len(extract.rejects),
                "from": extract.location,
                "run_id": run_id,
            },
        )
