"""The checks GX cannot express on one pandas batch, as one DuckDB query each.

`references`: every row's key (one column or several) exists in the referenced table, in any
layer.
`rejects`: the latest load of the table rejected no more rows than `max_rejects` (or than
`max_reject_share` of the rows it read).
`schema`: the table's columns did not change since its previous batch (`meta.schema_history`).
`row_drop`: the table did not lose more than `max_row_drop` of its rows since its previous
batch.
"""

from __future__ import annotations

import duckdb

from hub.store import quote_column, split_ref, table_exists, table_ref
from quality.compiled import Column
from quality.specs import SAMPLE_SIZE, CheckSpec, Verdict


def run_sql_check(con: duckdb.DuckDBPyConnection, spec: CheckSpec, key: list[str]) -> Verdict:
    """`key`: the table's primary key, shown beside each sampled failing row."""
    checks = {
        "references": _references,
        "rejects": _rejects,
        "schema": _schema,
        "row_drop": _row_drop,
    }
    if spec.sql not in checks:
        raise ValueError(f"unknown SQL check {spec.sql!r}")
    return checks[spec.sql](con, spec, key)


def _references(con: duckdb.DuckDBPyConnection, spec: CheckSpec, key: list[str]) -> Verdict:
    """Rows whose key columns are all present and match no row of the target (a row with a
    missing key column is not checked, as SQL's MATCH SIMPLE). Numbers compare as numbers and
    points in time as points in time (a timestamp without a zone as UTC), whatever their
    exact types; columns of other kinds compare as text."""
    table, target = table_ref(*split_ref(spec.table)), table_ref(*split_ref(spec.kwargs["target"]))
    columns, target_columns = spec.kwargs["columns"], spec.kwargs["target_columns"]
    try:
        types = dict(
            con.execute(f"SELECT column_name, column_type FROM (DESCRIBE {table})").fetchall()
        )
        target_types = dict(
            con.execute(f"SELECT column_name, column_type FROM (DESCRIBE {target})").fetchall()
        )
    except duckdb.CatalogException:
        exists = table_exists(con, *split_ref(spec.table))
        missing = spec.kwargs["target"] if exists else spec.table
        return Verdict(spec.name, None, error=f"{missing} does not exist yet: materialize it first")
    unknown = [c for c in columns if c not in types] + [
        f"{spec.kwargs['target']}.{c}" for c in target_columns if c not in target_types
    ]
    if unknown:
        return Verdict(spec.name, None, error=f"no column(s) {', '.join(unknown)}")
    pairs = [
        _equal(f"t.{quote_column(c)}", types[c], f"r.{quote_column(tc)}", target_types[tc])
        for c, tc in zip(columns, target_columns, strict=True)
    ]
    present = " AND ".join(f"t.{quote_column(c)} IS NOT NULL" for c in columns)
    shown = [f"CAST(t.{quote_column(c)} AS VARCHAR)" for c in columns]
    value = shown[0] if len(shown) == 1 else f"'[' || concat_ws(', ', {', '.join(shown)}) || ']'"
    keys = [f"CAST(t.{quote_column(k)} AS VARCHAR)" for k in key if k in types]
    row_key = f"concat_ws(', ', {', '.join(keys)})" if keys else "NULL"
    total, missing = con.execute(
        f"SELECT count(*), count(*) FILTER (WHERE NOT ({present})) FROM {table} t"
    ).fetchone()
    held_back = _held_back(con, spec.kwargs.get("held_back_by"))
    if held_back:  # a blocked signup's row was kept out of the target: its own case says why
        present += f" AND NOT list_contains(?, CAST(t.{quote_column(columns[0])} AS VARCHAR))"
    count, sample, sample_keys = con.execute(
        f"SELECT count(*), min_by({value}, t.rowid, {SAMPLE_SIZE}), "
        f"min_by({row_key}, t.rowid, {SAMPLE_SIZE}) "
        f"FROM {table} t ANTI JOIN {target} r ON {' AND '.join(pairs)} WHERE {present}",
        [held_back] if held_back else [],
    ).fetchone()
    metadata = {
        "element_count": total,
        "missing_count": missing,
        "unexpected_count": count,
        "unexpected_percent": count / (total - missing) * 100 if total > missing else None,
        "references": f"{spec.kwargs['target']}.[{', '.join(target_columns)}]",
    }
    if count:
        metadata |= {"unexpected_sample": sample, "unexpected_keys": sample_keys}
    if held_back:
        metadata["held_back_signups"] = held_back
    return Verdict(spec.name, count == 0, metadata)


def _held_back(con: duckdb.DuckDBPyConnection, agents: list[str] | None) -> list[str]:
    """The keys of blocked signups (`hub.cases`): their rows are kept out of the signup
    table, so rows referring to them are that client's problem, not the table's."""
    if not agents or not table_exists(con, "agents", "cases"):
        return []
    rows = con.execute(
        "SELECT DISTINCT signup_key FROM agents.cases WHERE status = 'blocked' "
        "AND list_contains(?, agent) ORDER BY 1",
        [agents],
    ).fetchall()
    return [r[0] for r in rows]


def _equal(mine: str, my_type: str, theirs: str, their_type: str) -> str:
    """SQL: a key column equals the referenced one (kinds of type as the compiled checks
    see them; a moment is a date or a timestamp, never a time of day)."""
    kinds = [Column("", my_type), Column("", their_type)]
    if my_type == their_type or all(k.numeric for k in kinds):
        return f"{mine} = {theirs}"
    if all(k.type.startswith(("DATE", "TIMESTAMP")) for k in kinds):
        zoned = "TIMESTAMP WITH TIME ZONE"
        mine = f"timezone('UTC', {mine})" if my_type == zoned else mine
        theirs = f"timezone('UTC', {theirs})" if their_type == zoned else theirs
        return f"{mine} = {theirs}"
    return f"CAST({mine} AS VARCHAR) = CAST({theirs} AS VARCHAR)"


def _rejects(con: duckdb.DuckDBPyConnection, spec: CheckSpec, key: list[str]) -> Verdict:
    row = con.execute(
        "SELECT batch_id, rejected, read FROM meta.batches WHERE table_name = ? "
        "ORDER BY seq DESC LIMIT 1",
        [spec.table],
    ).fetchone()
    batch_id, rejected, read = row if row else (None, 0, 0)
    metadata: dict = {"rejected": rejected, "read": read, **spec.kwargs}
    if rejected:
        _, table = split_ref(spec.table)
        reasons = con.execute(
            f"SELECT location || ': ' || reason FROM {table_ref('rejects', table)} "
            f"WHERE batch_id = ? LIMIT {SAMPLE_SIZE}",
            [batch_id],
        ).fetchall()
        metadata["reject_sample"] = [r[0] for r in reasons]
    if "max_reject_share" in spec.kwargs:
        passed = rejected <= spec.kwargs["max_reject_share"] * (read or 0)
    else:
        passed = rejected <= spec.kwargs["max_rejects"]
    return Verdict(spec.name, passed, metadata)


def _schema(con: duckdb.DuckDBPyConnection, spec: CheckSpec, key: list[str]) -> Verdict:
    """Schema changes since the table's current batch was loaded (its own included): any
    change fails the check (blocking under `freeze`, where the load was refused)."""
    changes = con.execute(
        "SELECT change, column_name, old_type, new_type, applied FROM meta.schema_history "
        "WHERE table_name = ? AND seq > coalesce((SELECT max(seq) FROM meta.batches "
        "WHERE table_name = ? AND batch_id <> (SELECT batch_id FROM meta.batches "
        "WHERE table_name = ? ORDER BY seq DESC LIMIT 1)), 0) ORDER BY seq",
        [spec.table, spec.table, spec.table],
    ).fetchall()
    described = [
        f"{column}: {change}"
        + (f" {old} -> {new}" if change == "type_changed" else "")
        + ("" if applied else " (refused)")
        for change, column, old, new, applied in changes
    ]
    return Verdict(
        spec.name,
        not changes,
        {"contract": spec.kwargs["contract"], "changes": described or ["none"]},
    )


def _row_drop(con: duckdb.DuckDBPyConnection, spec: CheckSpec, key: list[str]) -> Verdict:
    """The table kept at least `1 - max_row_drop` of the rows its previous batch had."""
    counts = con.execute(
        "SELECT rows FROM meta.batches WHERE table_name = ? ORDER BY seq DESC LIMIT 2",
        [spec.table],
    ).fetchall()
    share = spec.kwargs["max_row_drop"]
    if len(counts) < 2:
        return Verdict(spec.name, True, {"observed_value": None, "note": "first batch"})
    now, before = counts[0][0], counts[1][0]
    dropped = (before - now) / before if before else 0.0
    metadata = {"observed_value": dropped, "rows": now, "previous_rows": before}
    return Verdict(spec.name, dropped <= share, metadata)
