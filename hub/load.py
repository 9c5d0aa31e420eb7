"""Load one source table into `raw.<source>__<table>`: all of it, or none of it.

The connector says what to read; the read itself runs inside one store transaction (DuckDB
reads files and databases straight into the store). When nothing needs casting, a
`replace` reads the source straight into the new raw table; otherwise the rows are staged:
numbered, typed (null texts, declared types, a reject per value that does not fit) and
kept past the cursor. Then the schema is compared with the table's under its contract, the
rows written by the table's disposition (`hub.dispositions`), the cursor kept, rejected
rows appended to `rejects.<source>__<table>` with their reason, the batch recorded in
`meta.batches` and the audit record written. A failure anywhere leaves the previous raw
table and cursor as they were.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import duckdb
import pyarrow as pa

from connectors import Extract, Reject, SourceReadError, reader_for
from connectors.base import ORIGIN_COLUMN, SourceBase, Table
from hub import audit, cases, dispositions, schema
from hub.casting import ROW, CastingError, typed
from hub.config import HubConfig
from hub.dispositions import STAGED, ContractRefused
from hub.secrets import scrub
from hub.store import (
    Store,
    new_batch_id,
    now,
    quote_column,
    quote_ident,
    record_batch,
    table_exists,
    table_ref,
)

_REJECTS_DDL = """
CREATE TABLE IF NOT EXISTS {table} (batch_id VARCHAR, source VARCHAR, location VARCHAR,
    reason VARCHAR, record VARCHAR, rejected_at TIMESTAMPTZ);
ALTER TABLE {table} ADD COLUMN IF NOT EXISTS column_name VARCHAR;
ALTER TABLE {table} ADD COLUMN IF NOT EXISTS raw BLOB;
"""
_READ = "_hub_read"


class LoadError(Exception):
    """A load was refused; the message names the source, the table and the fix."""


@dataclass(frozen=True)
class LoadResult:
    table: str
    batch_id: str | None
    "None when nothing new was read (an incremental load with no new rows)."
    rows: int
    "Rows in the raw table after the load."
    read: int
    "Rows read by this load, rejected ones included."
    written: int
    "Rows this load wrote (replaced, appended or merged)."
    rejected: int
    location: str
    columns: list[str]
    cursor: str | None = None
    "The cursor's value after the load (incremental tables)."
    schema_changes: list[str] = field(default_factory=list)


class _Refused(Exception):
    def __init__(self, message: str, rejects: list[Reject]) -> None:
        super().__init__(message)
        self.rejects = rejects


def raw_table_name(source: str, table: str) -> str:
    return f"{source}__{table}"


def load_table(
    config: HubConfig,
    store: Store,
    source: str,
    table: str,
    run_id: str | None = None,
    *,
    full_refresh: bool = False,
) -> LoadResult:
    """Read the table from its source and load it; `full_refresh` starts over (replace,
    cursor forgotten)."""
    where = f"source {source}, table {table}"
    spec = config.sources[source].tables[table]
    since = None if full_refresh or not spec.cursor else _last_cursor(store, source, table)
    try:
        extract = reader_for(config.sources[source].kind)(
            config.sources[source], source, table, spec, config.root, since=since
        )
    except SourceReadError as exc:
        raise LoadError(str(exc)) from None
    except Exception as exc:  # a connector's own bug: say which, without its URL's secrets
        raise LoadError(
            f"{where}: the {config.sources[source].kind} connector failed "
            f"({type(exc).__name__}: {scrub(str(exc))}); nothing was loaded and the last "
            "good data is kept."
        ) from None
    try:
        return _load(config, store, source, table, extract, run_id, full_refresh)
    finally:
        if extract.cleanup:
            extract.cleanup()


def read_columns(
    config: HubConfig, source: str, table: str, columns: list[str]
) -> list[tuple[str | None, ...]]:
    """Some columns of a source table, as text, read through its connector into an in-memory
    DuckDB (the store is not touched): what a sensor needs to see new rows."""
    spec = config.sources[source].tables[table]
    extract = reader_for(config.sources[source].kind)(
        config.sources[source], source, table, spec, config.root, since=None
    )
    con = duckdb.connect()
    try:
        for statement in extract.setup:
            con.execute(statement)
        wanted = ", ".join(f"CAST({quote_column(c)} AS VARCHAR)" for c in columns)
        return con.execute(
            f"SELECT DISTINCT {wanted} FROM ({_register(con, extract)})", extract.params
        ).fetchall()
    finally:
        con.close()
        if extract.cleanup:
            extract.cleanup()


def _last_cursor(store: Store, source: str, table: str) -> object:
    """The cursor the reader pushes down (read again, under the lock, when loading)."""
    if not store.path.exists():
        return None
    with store.reader() as con:
        if not table_exists(con, "meta", "source_state"):
            return None
        return dispositions.last_cursor(con, f"raw.{raw_table_name(source, table)}")


def _load(
    config: HubConfig,
    store: Store,
    source: str,
    table: str,
    extract: Extract,
    run_id: str | None,
    full_refresh: bool,
) -> LoadResult:
    where = f"source {source}, table {table}"
    batch_id = new_batch_id()
    try:
        with store.writer() as con:
            for statement in extract.setup:
                con.execute(statement)
            try:
                con.execute("BEGIN TRANSACTION")
                result = _apply(con, config, source, table, extract, batch_id, run_id, full_refresh)
                con.execute("COMMIT")
            except BaseException:
                con.execute("ROLLBACK")
                raise
            finally:
                for statement in extract.teardown:
                    _quietly(con, statement)
    except (_Refused, ContractRefused) as refused:
        _keep_refusal(store, config, source, table, batch_id, refused, run_id)
        raise LoadError(f"{where}: {refused}") from None
    except CastingError as exc:
        raise LoadError(f"{where}: {exc}") from None
    except duckdb.Error as exc:
        explained = extract.explain(exc) if extract.explain else None
        raise LoadError(explained or f"{where}: {_explained(exc)}") from None
    return result


def _apply(
    con: duckdb.DuckDBPyConnection,
    config: HubConfig,
    source: str,
    table: str,
    extract: Extract,
    batch_id: str,
    run_id: str | None,
    full_refresh: bool,
) -> LoadResult:
    """Everything the load does, inside its transaction."""
    src = config.sources[source]
    spec = src.tables[table]
    name = raw_table_name(source, table)
    disposition = "replace" if full_refresh else spec.write
    target = table_ref("raw", name)
    lineage = {"_hub_source": source, "_hub_batch_id": batch_id, "_hub_loaded_at": now()}
    exists = table_exists(con, "raw", name)
    # the cursor as it is now, under the lock (another load may have moved it)
    since = (
        None if full_refresh or not spec.cursor else dispositions.last_cursor(con, f"raw.{name}")
    )
    incremental = since is not None or disposition != "replace"
    previous = schema.columns_of(con, target) if exists else None
    casts = extract.apply_types and bool(spec.declared_types())
    nulls = extract.apply_null_values and bool(src.null_values_of(spec))
    if disposition == "replace" and since is None and not casts and not nulls:
        # the fast path: the source is read straight into the new raw table
        rows_sql = _register(con, extract)
        constants = ", ".join(f"? AS {quote_ident(k)}" for k in lineage)
        con.execute(
            f"CREATE OR REPLACE TABLE {target} AS SELECT *, {constants} FROM ({rows_sql})",
            [*lineage.values(), *extract.params],  # the constants come first in the text
        )
        _unregister(con, extract)
        rejects = _reader_rejects(con, extract)
        _require_columns(con, target, spec, extract, rejects)
        read_good = written = con.execute(f"SELECT count(*) FROM {target}").fetchone()[0]
        checked = target
    else:
        rejects, read_good, written = _staged(con, src, spec, extract, since, disposition)
        checked = STAGED
    screened = cases.screen(con, config, name, checked, batch_id, run_id)
    if screened:  # signups without a usable address: kept out, in rejects, their case blocked
        rejects += screened
        read_good -= len(screened)
        written = con.execute(f"SELECT count(*) FROM {checked}").fetchone()[0]
    if incremental:  # a reject kept by an earlier load is not a new one
        rejects = _new_rejects(con, name, rejects)
    read = read_good + len(rejects)
    # a blocked signup stops its own case, not the table: only the other rejects count
    counted = [r for r in rejects if r not in screened]
    if read_good == 0 and (not incremental or counted):
        kept = f"; its {len(rejects)} rejected row(s) are kept in rejects.{name}" if rejects else ""
        good = "good " if rejects else ""
        raise _Refused(
            f"{extract.location} returned no {good}rows, so the previous data is kept (an empty "
            f"read is far more often a broken export than an empty table){kept}. Fix: check the "
            "source, then reload.",
            rejects,
        )
    if read_good == 0:
        if rejects:  # only blocked signups: kept, with their cases, and nothing else new
            _keep_rejects(con, name, source, batch_id, rejects)
        return _nothing_new(con, name, extract)
    contract = src.contract_of(spec)
    found = schema.changes(previous, schema.columns_of(con, checked)) if previous else []
    found = dispositions.enforce(con, found, contract, checked, target, disposition)
    if checked != target:
        dispositions.write(con, target, disposition, exists, lineage, spec)
    cursor_value = dispositions.keep_cursor(
        con, f"raw.{name}", spec.cursor, batch_id, since, checked
    )
    rows = con.execute(f"SELECT count(*) FROM {target}").fetchone()[0]
    _keep_rejects(con, name, source, batch_id, rejects)
    record_batch(con, batch_id, f"raw.{name}", source, rows, len(counted), run_id, read=read)
    schema.record(con, f"raw.{name}", batch_id, found, contract, applied=True)
    columns = list(schema.columns_of(con, target))
    audit.append(
        con,
        actor="loader",
        action="load",
        target=f"raw.{name}",
        details={
            "batch_id": batch_id,
            "write": disposition,
            "rows": rows,
            "read": read,
            "written": written,
            "rejected": len(rejects),
            **({"blocked_signups": len(rejects) - len(counted)} if screened else {}),
            "from": extract.location,
            "cursor": cursor_value,
            "schema_changes": [str(c) for c in found],
            "run_id": run_id,
        },
    )
    _drop_staging(con)
    return LoadResult(
        table=f"raw.{name}",
        batch_id=batch_id,
        rows=rows,
        read=read,
        written=written,
        rejected=len(rejects),
        location=extract.location,
        columns=columns,
        cursor=cursor_value,
        schema_changes=[str(c) for c in found],
    )


def _staged(
    con: duckdb.DuckDBPyConnection,
    src: SourceBase,
    spec: Table,
    extract: Extract,
    since: object,
    disposition: str,
) -> tuple[list[Reject], int, int]:
    """The rows read, numbered and typed in `STAGED`, past the cursor (a row without a
    cursor value cannot be placed after it and is left out), one per key for a merge:
    (rejects, good rows read, rows to write)."""
    numbered = f"SELECT row_number() OVER () AS {ROW}, * FROM ({_register(con, extract)})"
    con.execute(f"CREATE OR REPLACE TEMP TABLE {_READ} AS {numbered}", extract.params)
    _unregister(con, extract)
    rejects = _reader_rejects(con, extract)
    rejects += typed(
        con,
        _READ,
        STAGED,
        spec,
        null_values=src.null_values_of(spec),
        apply_null_values=extract.apply_null_values,
        apply_types=extract.apply_types,
    )
    _require_columns(con, STAGED, spec, extract, rejects)
    if since is not None and spec.cursor:
        cursor = quote_column(spec.cursor)
        con.execute(f"DELETE FROM {STAGED} WHERE {cursor} IS NULL OR NOT ({cursor} > ?)", [since])
    read_good = con.execute(f"SELECT count(*) FROM {STAGED}").fetchone()[0]
    if disposition == "merge" and read_good:
        dispositions.keep_latest_per_key(con, spec.primary_key, spec.cursor)
    written = con.execute(f"SELECT count(*) FROM {STAGED}").fetchone()[0]
    return rejects, read_good, written


def _register(con: duckdb.DuckDBPyConnection, extract: Extract) -> str:
    """The SELECT producing the rows read (Arrow batches registered as a view first)."""
    if extract.sql is not None:
        return extract.sql
    arrow_schema = extract.schema or pa.schema([(ORIGIN_COLUMN, pa.string())])
    batches = pa.RecordBatchReader.from_batches(arrow_schema, iter(extract.batches or []))
    con.register("_hub_arrow", batches)
    return "SELECT * FROM _hub_arrow"


def _unregister(con: duckdb.DuckDBPyConnection, extract: Extract) -> None:
    if extract.sql is None:
        con.unregister("_hub_arrow")


def _reader_rejects(con: duckdb.DuckDBPyConnection, extract: Extract) -> list[Reject]:
    rejects = list(extract.rejects)
    if extract.collect_rejects:
        rejects += extract.collect_rejects(con)
    return rejects


def _new_rejects(con: duckdb.DuckDBPyConnection, name: str, rejects: list[Reject]) -> list[Reject]:
    """The rejects no earlier load kept (same place, same record): an incremental read of a
    file sees its old bad lines again."""
    if not rejects or not table_exists(con, "rejects", name):
        return rejects
    kept = set(con.execute(f"SELECT location, record FROM {table_ref('rejects', name)}").fetchall())
    return [r for r in rejects if (r.where, r.record) not in kept]


def _require_columns(
    con: duckdb.DuckDBPyConnection,
    relation: str,
    spec: Table,
    extract: Extract,
    rejects: list[Reject],
) -> None:
    present = set(schema.columns_of(con, relation))
    needed = [*spec.primary_key, *([spec.cursor] if spec.cursor else [])]
    missing = [c for c in needed if c not in present]
    if missing:
        raise _Refused(
            f"{extract.location} has no column(s) {missing} (primary key or cursor; it has "
            f"{sorted(present)}), so the previous data is kept. Fix: correct `primary_key` / "
            "`cursor` in hub.yaml, or the source.",
            rejects,
        )


def _nothing_new(con: duckdb.DuckDBPyConnection, name: str, extract: Extract) -> LoadResult:
    """An incremental load that read no new row: no batch, the data version stays."""
    target = table_ref("raw", name)
    exists = table_exists(con, "raw", name)
    rows = con.execute(f"SELECT count(*) FROM {target}").fetchone()[0] if exists else 0
    state = con.execute(
        "SELECT value FROM meta.source_state WHERE table_name = ?", [f"raw.{name}"]
    ).fetchone()
    _drop_staging(con)
    return LoadResult(
        table=f"raw.{name}",
        batch_id=None,
        rows=rows,
        read=0,
        written=0,
        rejected=0,
        location=extract.location,
        columns=list(schema.columns_of(con, target)) if exists else [],
        cursor=state[0] if state else None,
    )


def _keep_rejects(
    con: duckdb.DuckDBPyConnection, name: str, source: str, batch_id: str, rejects: list[Reject]
) -> None:
    table = table_ref("rejects", name)
    con.execute(_REJECTS_DDL.format(table=table))
    if rejects:
        con.executemany(
            f"INSERT INTO {table} (batch_id, source, location, reason, record, rejected_at, "
            "column_name, raw) VALUES (?, ?, ?, ?, ?, ?, ?, ?)",
            [
                [batch_id, source, r.where, r.reason, r.record, now(), r.column, r.raw]
                for r in rejects
            ],
        )


def _keep_refusal(
    store: Store,
    config: HubConfig,
    source: str,
    table: str,
    batch_id: str,
    refused: Exception,
    run_id: str | None,
) -> None:
    """A refused load changes no data, but its schema changes and rejects are kept."""
    name = raw_table_name(source, table)
    spec = config.sources[source].tables[table]
    changes = getattr(refused, "changes", [])
    rejects = getattr(refused, "rejects", [])
    with store.transaction() as con:
        contract = config.sources[source].contract_of(spec)
        schema.record(con, f"raw.{name}", batch_id, changes, contract, applied=False)
        _keep_rejects(con, name, source, batch_id, rejects)
        audit.append(
            con,
            actor="loader",
            action="load.refused",
            target=f"raw.{name}",
            details={
                "batch_id": batch_id,
                "why": str(refused),
                "rejected": len(rejects),
                "run_id": run_id,
            },
        )


def _explained(exc: duckdb.Error) -> str:
    """DuckDB's error in one paragraph (not its list of possible fixes nor the SQL), with
    what to do."""
    text = scrub(str(exc)).split("\nPossible fixes")[0].split("\nLINE ")[0]
    text = " ".join(text.split())
    if "sniffing file" in text or "CSV parsing dialect" in text:
        return (
            f"the file could not be parsed as CSV ({text}); nothing was applied and the "
            "previous data is kept. Fix: look for an unterminated quote or a delimiter that "
            "changed, or set `csv:` (delimiter, quote, escape) for this source."
        )
    return (
        f"the load failed ({text}); nothing was applied and the previous data is kept. "
        "Fix the cause above and reload."
    )


def _drop_staging(con: duckdb.DuckDBPyConnection) -> None:
    for staging in (_READ, STAGED):
        con.execute(f"DROP TABLE IF EXISTS {staging}")


def _quietly(con: duckdb.DuckDBPyConnection, statement: str) -> None:
    try:
        con.execute(statement)
    except duckdb.Error:
        pass
