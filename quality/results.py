"""`meta.check_results`: every verdict, tied to the batch of data it was evaluated on."""

from __future__ import annotations

import json
from dataclasses import dataclass

import duckdb

from hub import audit
from hub.store import latest_batch, now
from quality.specs import CheckSpec, Verdict


def record(
    con: duckdb.DuckDBPyConnection,
    specs: list[CheckSpec],
    verdicts: list[Verdict],
    *,
    versions: dict[str, str | None],
    run_id: str | None,
) -> None:
    """Write the verdicts and one audit record; call inside the caller's transaction."""
    by_name = {s.name: s for s in specs}
    evaluated_at = now()
    con.executemany(
        "INSERT INTO meta.check_results (table_name, check_name, data_version, passed, "
        "blocking, evaluated_at, run_id, details) VALUES (?, ?, ?, ?, ?, ?, ?, ?)",
        [
            [
                by_name[v.check].table,
                v.check,
                versions[v.check],
                v.passed,
                by_name[v.check].blocking,
                evaluated_at,
                run_id,
                json.dumps({**v.metadata, "error": v.error}, default=str),
            ]
            for v in verdicts
        ],
    )
    table = specs[0].table if specs else ""
    audit.append(
        con,
        actor="quality",
        action="checks",
        target=table,
        details={
            "data_versions": sorted({v for v in versions.values() if v}),
            "run_id": run_id,
            "passed": [v.check for v in verdicts if v.passed],
            "failed": [v.check for v in verdicts if v.passed is False],
            "errors": [v.check for v in verdicts if v.passed is None],
        },
    )


@dataclass(frozen=True)
class Latest:
    passed: bool | None
    data_version: str | None
    unexpected_count: int | None
    evaluated_at: str


def latest(con: duckdb.DuckDBPyConnection, table: str) -> dict[str, Latest]:
    """check name -> its latest evaluation on `table`."""
    rows = con.execute(
        "SELECT check_name, passed, data_version, "
        "TRY_CAST(details->>'unexpected_count' AS BIGINT), CAST(evaluated_at AS VARCHAR) "
        "FROM meta.check_results WHERE table_name = ? AND check_name <> 'build' "
        "QUALIFY row_number() OVER (PARTITION BY check_name ORDER BY seq DESC) = 1",
        [table],
    ).fetchall()
    return {name: Latest(*rest) for name, *rest in rows}


def record_failed_build(
    con: duckdb.DuckDBPyConnection, table: str, error: str, run_id: str | None
) -> None:
    """A derived table's build failed: its `build` verdict, which the gate reads as failed
    until a build succeeds (a newer batch)."""
    con.execute(
        "INSERT INTO meta.check_results (table_name, check_name, data_version, passed, "
        "blocking, evaluated_at, run_id, details) VALUES (?, 'build', ?, false, true, ?, ?, ?)",
        [table, latest_batch(con, table), now(), run_id, json.dumps({"error": error})],
    )


def failed_build(con: duckdb.DuckDBPyConnection, table: str) -> str | None:
    """Why the table's latest build failed, if it failed after its current batch was built."""
    row = con.execute(
        "SELECT details->>'error' FROM meta.check_results WHERE table_name = ? "
        "AND check_name = 'build' AND NOT passed AND seq > coalesce((SELECT max(seq) "
        "FROM meta.batches WHERE table_name = ?), 0) ORDER BY seq DESC LIMIT 1",
        [table, table],
    ).fetchone()
    return row[0] if row else None
