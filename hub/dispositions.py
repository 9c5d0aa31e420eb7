"""How the rows of a load land in their raw table: `replace`, `append` or `merge`, under the
table's schema contract, and where the incremental cursor is kept (`meta.source_state`).

Called by `hub.load` inside the load's transaction, with the rows read in the temporary
table `STAGED` (numbered by `ROW`).
"""

from __future__ import annotations

from typing import Any

import duckdb

from connectors.base import Table
from hub import schema
from hub.casting import ROW
from hub.store import now, quote_column, quote_ident

STAGED = "_hub_typed"


class ContractRefused(Exception):
    """The schema changed and the table's contract is `freeze`."""

    def __init__(self, message: str, changes: list[schema.Change]) -> None:
        super().__init__(message)
        self.changes = changes


def enforce(
    con: duckdb.DuckDBPyConnection,
    found: list[schema.Change],
    contract: str,
    read: str,
    target: str,
    write: str,
) -> list[schema.Change]:
    """Apply the table's contract to the changes between the raw table and what was `read`
    (the new table itself on the fast path, else the staged rows); returns the changes as
    applied. Appending or merging never narrows a column: it widens to a type both the old
    and the new values fit (BIGINT and DOUBLE: DOUBLE; BIGINT and VARCHAR: VARCHAR)."""
    if not found:
        return []
    if contract == "freeze":
        raise ContractRefused(
            "the schema changed (" + "; ".join(map(str, found)) + ") and the table's contract "
            "is `freeze`, so nothing was loaded and the previous data is kept. Fix: restore the "
            "source's columns, or set `schema: evolve` for this table.",
            found,
        )
    applied = []
    for change in found:
        column = quote_column(change.column)
        if change.change == "added" and contract == "discard_columns":
            con.execute(f"ALTER TABLE {read} DROP COLUMN {column}")
            applied.append(schema.Change("discarded", change.column, None, change.new_type))
            continue
        if write != "replace" and read != target:  # the existing table follows the source
            if change.change == "added":
                con.execute(f"ALTER TABLE {target} ADD COLUMN {column} {change.new_type}")
            elif change.change == "type_changed":
                wide = _common_type(con, change.old_type, change.new_type)
                if wide != change.old_type:
                    con.execute(f"ALTER TABLE {target} ALTER {column} TYPE {wide}")
                change = schema.Change(change.change, change.column, change.old_type, wide)
        applied.append(change)
    return applied


def _common_type(con: duckdb.DuckDBPyConnection, old: str | None, new: str | None) -> str:
    """The type DuckDB gives a column holding values of both types."""
    row = con.execute(
        f"SELECT typeof(x) FROM (SELECT NULL::{old} AS x UNION ALL SELECT NULL::{new}) LIMIT 1"
    ).fetchone()
    return str(row[0])


def write(
    con: duckdb.DuckDBPyConnection,
    target: str,
    disposition: str,
    exists: bool,
    lineage: dict[str, object],
    spec: Table,
) -> None:
    """The staged rows into the raw table, by the table's write disposition."""
    constants = ", ".join(f"? AS {quote_ident(k)}" for k in lineage)
    data = f"SELECT * EXCLUDE ({ROW}), {constants} FROM {STAGED}"
    if disposition == "replace" or not exists:
        con.execute(f"CREATE OR REPLACE TABLE {target} AS {data}", list(lineage.values()))
    elif disposition == "append":
        con.execute(f"INSERT INTO {target} BY NAME {data}", list(lineage.values()))
    else:
        _merge(con, target, data, list(lineage.values()), spec.primary_key)


def keep_latest_per_key(con: duckdb.DuckDBPyConnection, key: list[str], cursor: str | None) -> None:
    """One row per key among the rows read: the latest by cursor, else the last read."""
    keys = ", ".join(quote_column(k) for k in key)
    latest = f"{quote_column(cursor)} DESC NULLS LAST, " if cursor else ""
    con.execute(
        f"CREATE OR REPLACE TEMP TABLE {STAGED} AS SELECT * FROM {STAGED} "
        f"QUALIFY row_number() OVER (PARTITION BY {keys} ORDER BY {latest}{ROW} DESC) = 1"
    )


def _merge(
    con: duckdb.DuckDBPyConnection, target: str, data: str, params: list[object], key: list[str]
) -> None:
    """Upsert on the primary key: update the rows whose key exists, insert the others."""
    columns = [c[0] for c in con.execute(f"DESCRIBE {data}", params).fetchall()]
    sets = ", ".join(f"{quote_column(c)} = s.{quote_column(c)}" for c in columns)
    names = ", ".join(quote_column(c) for c in columns)
    values = ", ".join(f"s.{quote_column(c)}" for c in columns)
    keys = ", ".join(quote_column(k) for k in key)
    con.execute(
        f"MERGE INTO {target} USING ({data}) s USING ({keys}) "
        f"WHEN MATCHED THEN UPDATE SET {sets} WHEN NOT MATCHED THEN INSERT ({names}) "
        f"VALUES ({values})",
        params,
    )


def last_cursor(con: duckdb.DuckDBPyConnection, table_name: str) -> Any:
    """The cursor's last value loaded into `table_name`, typed; None before the first load."""
    row = con.execute(
        "SELECT value, value_type FROM meta.source_state WHERE table_name = ?", [table_name]
    ).fetchone()
    return con.execute(f"SELECT CAST(? AS {row[1]})", [row[0]]).fetchone()[0] if row else None


def keep_cursor(
    con: duckdb.DuckDBPyConnection,
    table_name: str,
    cursor: str | None,
    batch_id: str,
    since: object,
    read: str,
) -> str | None:
    """Keep the cursor's new value, the largest read if past the last one (compared by
    DuckDB, so a value whose type changed between loads still compares)."""
    if not cursor:
        return None
    column = quote_column(cursor)
    past = f" WHERE {column} > ?" if since is not None else ""
    text, kind = con.execute(
        f"SELECT CAST(max({column}) AS VARCHAR), any_value(typeof({column})) FROM {read}{past}",
        [since] if since is not None else [],
    ).fetchone()
    if text is None:
        current = con.execute(
            "SELECT value FROM meta.source_state WHERE table_name = ?", [table_name]
        ).fetchone()
        return current[0] if current else None
    con.execute(
        "INSERT OR REPLACE INTO meta.source_state VALUES (?, ?, ?, ?, ?, ?)",
        [table_name, cursor, text, kind, batch_id, now()],
    )
    return text
