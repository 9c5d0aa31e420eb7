"""Values read right: a source's null texts become NULL, declared types are applied, and a
value that does not fit its declared type is a reject naming the column and the value,
never a silent NULL.

For every reader but CSV (whose reader does this itself): JSON strings, HTTP payloads,
Parquet and database columns. The rows arrive in a temporary table with their record
number (`_hub_row`) and origin; the typed rows leave in another, rejected rows removed.
"""

from __future__ import annotations

import json
from typing import Any

import duckdb

from connectors.base import ORIGIN_COLUMN, Reject, Table
from hub.store import quote_column, quote_ident, quote_literal

ROW = "_hub_row"
"The record number of each row read (1, 2, ...), for naming rejected records."


class CastingError(Exception):
    """A declared type or format is not one DuckDB knows; the message names the column."""


def typed(
    con: duckdb.DuckDBPyConnection,
    read: str,
    target: str,
    table: Table,
    *,
    null_values: list[str],
    apply_null_values: bool,
    apply_types: bool,
) -> list[Reject]:
    """Create `target` from `read` with nulls and types applied; returns the rejects."""
    columns = con.execute(f"DESCRIBE {quote_ident(read)}").fetchall()
    present = {c[0] for c in columns}
    declared = {n: c for n, c in table.columns.items() if c.type} if apply_types else {}
    missing = sorted(set(declared) - present)
    if missing:
        raise CastingError(
            f"declared column(s) {missing} are not in what the source returned "
            f"({sorted(present - {ROW, ORIGIN_COLUMN})}). Fix: correct `columns:` in hub.yaml."
        )
    selects, checks = [], []
    for name, kind, *_ in columns:
        column = quote_column(name)
        if name in (ROW, ORIGIN_COLUMN):
            selects.append(column)
            continue
        cleaned = column
        if apply_null_values and kind == "VARCHAR" and null_values:
            nulls = ", ".join(quote_literal(v) for v in null_values)
            cleaned = f"(CASE WHEN {column} IN ({nulls}) THEN NULL ELSE {column} END)"
        if name in declared:
            spec = declared[name]
            _require_type(con, name, spec.type)
            value = f"CAST({cleaned} AS VARCHAR)" if spec.format else cleaned
            cast = (
                f"TRY_CAST(try_strptime({value}, {quote_literal(spec.format)}) AS {spec.type})"
                if spec.format
                else f"TRY_CAST({cleaned} AS {spec.type})"
            )
            checks.append((name, cleaned, cast, spec.type, spec.format))
            selects.append(f"{cast} AS {column}")
        else:
            selects.append(f"{cleaned} AS {column}")
    con.execute(
        f"CREATE OR REPLACE TEMP TABLE {quote_ident(target)} AS "
        f"SELECT {', '.join(selects)} FROM {quote_ident(read)}"
    )
    rejected = _rejects(con, read, checks)
    if rejected:
        con.execute(
            f"DELETE FROM {quote_ident(target)} WHERE list_contains(?, {ROW})", [list(rejected)]
        )
    return list(rejected.values())


def _require_type(con: duckdb.DuckDBPyConnection, column: str, type_name: str) -> None:
    try:
        con.execute(f"SELECT CAST(NULL AS {type_name})")
    except duckdb.Error:
        raise CastingError(
            f"column `{column}`: {type_name!r} is not a DuckDB type. Fix: use one such as "
            "INTEGER, BIGINT, DOUBLE, DECIMAL(12,2), DATE, TIMESTAMP, TIMESTAMPTZ, BOOLEAN."
        ) from None


def _rejects(
    con: duckdb.DuckDBPyConnection, read: str, checks: list[tuple[str, str, str, str, str | None]]
) -> dict[int, Reject]:
    """record number -> its reject, for the first declared column its value does not fit."""
    found: dict[int, Reject] = {}
    for name, cleaned, cast, type_name, fmt in checks:
        rows = con.execute(
            f"SELECT {ROW}, {ORIGIN_COLUMN}, CAST({cleaned} AS VARCHAR), to_json(t) "
            f"FROM {quote_ident(read)} t WHERE {cleaned} IS NOT NULL AND {cast} IS NULL "
            f"ORDER BY {ROW}"
        ).fetchall()
        for row, origin, value, record in rows:
            if row in found:
                continue
            expected = f"{type_name} in the format {fmt!r}" if fmt else type_name
            found[row] = Reject(
                where=f"{origin} record {row}",
                reason=f"column `{name}`: {value!r} is not a {expected}",
                record=_without_lineage(record),
                column=name,
            )
    return dict(sorted(found.items()))


def _without_lineage(record: str) -> str:
    values: dict[str, Any] = json.loads(record)
    return json.dumps({k: v for k, v in values.items() if k not in (ROW, ORIGIN_COLUMN)})
