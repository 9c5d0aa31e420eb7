"""Enforcing the foundation gate inside a Dagster step: refuse, audited, with the reasons;
and building a derived table only from the inputs the gate proved, a failure recorded."""

from collections.abc import Callable, Iterator
from contextlib import contextmanager

import dagster as dg
import duckdb

from hub import audit
from hub.gate import GateVerdict
from hub.masking import without_values
from hub.secrets import scrub
from hub.store import Store, latest_batch
from quality.results import record_failed_build


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


@contextmanager
def recorded_build(store: Store, table: str, run_id: str) -> Iterator[None]:
    """Build a derived table; a build that fails is recorded as the table's failed `build`
    verdict, so the gate keeps everything that reads the table stopped until one succeeds."""
    try:
        yield
    except dg.Failure as exc:  # ours: it names tables and columns, never a value
        with store.transaction() as con:
            record_failed_build(con, table, scrub(str(exc.description)), run_id)
        raise
    except Exception as exc:
        # the gate repeats it to agents, analysts and MCP clients, and Dagster keeps it: the
        # cause without the values it quotes (a failed cast names the e-mail it choked on)
        said = without_values(scrub(f"{type(exc).__name__}: {exc}"))
        with store.transaction() as con:
            record_failed_build(con, table, said, run_id)
        raise dg.Failure(description=f"{table}: build failed: {said}") from None


def proven_inputs(con: duckdb.DuckDBPyConnection, verdict: GateVerdict) -> dict[str, str | None]:
    """The batches a build reads, inside its transaction: those the gate proved, or a
    `dg.Failure` when an input was reloaded since the gate looked."""
    current = {table: latest_batch(con, table) for table in verdict.batches}
    moved = [table for table, batch in current.items() if batch != verdict.batches[table]]
    if moved:
        raise dg.Failure(
            description=f"{verdict.target}: {', '.join(moved)} changed since the gate proved "
            "it (a load ran meanwhile); nothing was built. Run it again once its checks ran."
        )
    return current
