"""The checks GX cannot express on one pandas batch, as one DuckDB query each.

`references`: every non-null value of a column exists in the referenced table's column.
`rejects`: the latest load of the table rejected no more rows than `max_rejects` (or than
`max_reject_share` of the rows it read).
`schema`: the table's columns did not change since its previous batch (`meta.schema_history`).
"""

from __future__ import annotations

import duckdb

from hub.store import quote_ident, split_ref, table_ref
from quality.specs import SAMPLE_SIZE, CheckSpec, Verdict


def run_sql_check(con: duckdb.DuckDBPyConnection, spec: CheckSpec) -> Verdict:
    checks = {"references": _references, "rejects": _rejects, "schema": _schema}
    if spec.sql not in checks:
        raise ValueError(f"unknown SQL check {spec.sql!r}")
    return checks[spec.sql](con, spec)


def _references(con: duckdb.DuckDBPyConnection, spec: CheckSpec) -> Verdict:
    schema, table = split_ref(spec.table)
    target_table, _, target_column = spec.kwargs["target"].partition(".")
    column = quote_ident(spec.kwargs["column"])
    target = table_ref(schema, target_table)
    try:
        count, sample = con.execute(
            f"SELECT count(*), list(DISTINCT CAST(t.{column} AS VARCHAR))[1:{SAMPLE_SIZE}] "
            f"FROM {table_ref(schema, table)} t ANTI JOIN {target} r "
            f"ON CAST(t.{column} AS VARCHAR) = CAST(r.{quote_ident(target_column)} AS VARCHAR) "
            f"WHERE t.{column} IS NOT NULL"
        ).fetchone()
    except duckdb.Error as exc:
        return Verdict(spec.name, None, error=f"references {spec.kwargs['target']}: {exc}")
    metadata = {"unexpected_count": count, "references": spec.kwargs["target"]}
    if count:
        metadata["unexpected_sample"] = sorted(sample)
    return Verdict(spec.name, count == 0, metadata)


def _rejects(con: duckdb.DuckDBPyConnection, spec: CheckSpec) -> Verdict:
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


def _schema(con: duckdb.DuckDBPyConnection, spec: CheckSpec) -> Verdict:
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
