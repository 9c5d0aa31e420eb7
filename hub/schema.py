"""Schema contracts: what a change in a source's columns does to its raw table.

Every load compares the columns it read (name and type) with the raw table's. A change
(a column added, removed, or of another type) is recorded in `meta.schema_history` and
then, by the table's contract:
- `evolve` (default): the table follows (new columns added, types changed when the old
  values convert);
- `freeze`: the load is refused and the last good data stays (the `schema` check blocks);
- `discard_columns`: new columns are dropped, the rest as `evolve`.
"""

from __future__ import annotations

from dataclasses import dataclass

import duckdb

from hub.store import now

LINEAGE = ("_hub_source", "_hub_batch_id", "_hub_loaded_at", "_hub_origin", "_hub_row")


@dataclass(frozen=True)
class Change:
    change: str
    "`added`, `removed`, `type_changed`, or `discarded` (added, and dropped by the contract)."
    column: str
    old_type: str | None
    new_type: str | None

    def __str__(self) -> str:
        if self.change == "added":
            return f"column `{self.column}` added ({self.new_type})"
        if self.change == "removed":
            return f"column `{self.column}` removed"
        if self.change == "discarded":
            return f"column `{self.column}` added in the source and discarded"
        return f"column `{self.column}` changed from {self.old_type} to {self.new_type}"


def columns_of(con: duckdb.DuckDBPyConnection, relation: str) -> dict[str, str]:
    """name -> type of a table's data columns (lineage columns left out)."""
    described = con.execute(f"DESCRIBE {relation}").fetchall()
    return {name: str(kind) for name, kind, *_ in described if name not in LINEAGE}


def changes(previous: dict[str, str], incoming: dict[str, str]) -> list[Change]:
    found = [Change("added", c, None, t) for c, t in incoming.items() if c not in previous]
    found += [Change("removed", c, t, None) for c, t in previous.items() if c not in incoming]
    found += [
        Change("type_changed", c, previous[c], t)
        for c, t in incoming.items()
        if c in previous and previous[c] != t
    ]
    return found


def record(
    con: duckdb.DuckDBPyConnection,
    table_name: str,
    batch_id: str,
    found: list[Change],
    contract: str,
    applied: bool,
) -> None:
    if not found:
        return
    con.executemany(
        "INSERT INTO meta.schema_history (table_name, batch_id, change, column_name, old_type, "
        "new_type, contract, applied, changed_at) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)",
        [
            [
                table_name,
                batch_id,
                c.change,
                c.column,
                c.old_type,
                c.new_type,
                contract,
                applied and c.change != "discarded",
                now(),
            ]
            for c in found
        ],
    )
