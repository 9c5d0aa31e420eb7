"""Enforcing the foundation gate inside a Dagster step: refuse, audited, with the reasons."""

from collections.abc import Callable

import dagster as dg
import duckdb

from hub import audit
from hub.gate import GateVerdict
from hub.store import Store


def require_open_gate(
    store: Store, evaluate: Callable[[duckdb.DuckDBPyConnection], GateVerdict], run_id: str
) -> GateVerdict:
    """Raise `dg.Failure` (and write `gate.refused` to the audit trail) unless the gate is open."""
    with store.reader() as con:
        verdict = evaluate(con)
    if not verdict.open:
        with store.transaction() as con:
            audit.append(
                con,
                actor="gate",
                action="gate.refused",
                target=verdict.target,
                details={"problems": verdict.problems, "run_id": run_id},
            )
        raise dg.Failure(description=verdict.message())
    return verdict
