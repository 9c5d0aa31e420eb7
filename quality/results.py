"""`meta.check_results`: every verdict, tied to the batch of data it was evaluated on."""

from __future__ import annotations

import json

import duckdb

from hub import audit
from hub.store import now
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


def latest(con: duckdb.DuckDBPyConnection, table: str) -> dict[str, tuple[bool | None, str]]:
    """check name -> (passed, data version) of its latest evaluation on `table`."""
    rows = con.execute(
        "SELECT check_name, passed, data_version FROM meta.check_results WHERE table_name = ? "
        "QUALIFY row_number() OVER (PARTITION BY check_name ORDER BY seq DESC) = 1",
        [table],
    ).fetchall()
    return {name: (passed, batch) for name, passed, batch in rows}
