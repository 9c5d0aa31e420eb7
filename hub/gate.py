"""The foundation gate: nothing is built from, and no agent runs on, unproven data.

Dagster's blocking checks only stop downstream steps inside one run. The gate closes the
other doors (a later run, a schedule, a click on one asset alone). Before a unified entity or
a served product is rebuilt, every blocking check on its direct inputs must have passed on
their *current* data; before an agent does anything, the same holds for everything it can
read, transitively. A check that never ran on the current data counts as missing, one that
raised counts as failed, and a table no check covers cannot be proven at all.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import duckdb

from hub.config import HubConfig
from hub.store import batch_inputs, latest_batch
from quality import results
from quality.specs import CheckSpec, data_versions, table_checks


@dataclass(frozen=True)
class GateVerdict:
    target: str
    "What the gate guards: `agent onboarding`, `unified.customer`, ..."
    problems: list[str]
    batches: dict[str, str | None] = field(default_factory=dict)
    "The batch of every input the verdict is about, as it was when the gate looked."

    @property
    def open(self) -> bool:
        return not self.problems

    def message(self) -> str:
        if self.open:
            return f"foundation gate open for {self.target}: every blocking check passed."
        lines = "\n".join(f"  - {p}" for p in self.problems)
        closed = f"foundation gate closed: {self.target} will not run on unproven data.\n{lines}\n"
        if all(any(said in p for said in _OUT_OF_DATE) for p in self.problems):
            return closed + (
                "Nothing failed: the tables above are only out of date. Fix: run `hub run` "
                "(it rebuilds them and runs their checks)."
            )
        return closed + (
            "Fix the data (see `rejects.*` and the check metadata in the Dagster UI), "
            "rematerialize the tables above with their checks, then run it again."
        )


def direct_inputs(config: HubConfig, ref: str) -> list[str]:
    """The tables `ref` is built from; a crosswalk stands for its entity."""
    layer, _, name = ref.partition(".")
    if layer == "serve" and name in config.serve:
        found = config.serve[name].inputs
    elif layer == "unified" and name in config.entities:
        found = [f"raw.{s.table}" for s in config.entities[name].sources]
    else:
        found = []
    return list(dict.fromkeys(entity_of(t) for t in found))


def upstream_tables(config: HubConfig, ref: str) -> list[str]:
    """`ref` and every table it is built from, transitively, nearest first."""
    seen: list[str] = []
    pending = [entity_of(ref)]
    while pending:
        table = pending.pop(0)
        if table not in seen:
            seen.append(table)
            pending += direct_inputs(config, table)
    return seen


def agent_inputs(config: HubConfig) -> list[str]:
    """Everything an agent can read: every product in the agent copy, and their sources."""
    tables: list[str] = []
    for name, product in config.serve.items():
        if product.audience == "agent":
            tables += [t for t in upstream_tables(config, f"serve.{name}") if t not in tables]
    return tables


def evaluate_agent(con: duckdb.DuckDBPyConnection, config: HubConfig, agent: str) -> GateVerdict:
    return _verdict(con, config, f"agent {agent}", agent_inputs(config))


def evaluate_build(con: duckdb.DuckDBPyConnection, config: HubConfig, ref: str) -> GateVerdict:
    return _verdict(con, config, ref, direct_inputs(config, ref))


def evaluate_product(con: duckdb.DuckDBPyConnection, config: HubConfig, name: str) -> GateVerdict:
    """A product leaving the store (`hub export`, `hub mcp`): the agents' rule for it alone,
    every blocking check on it and on everything it is built from, transitively, passed on
    the current data, and its last build succeeded on current inputs."""
    ref = f"serve.{name}"
    return _verdict(con, config, ref, upstream_tables(config, ref))


def _verdict(
    con: duckdb.DuckDBPyConnection, config: HubConfig, target: str, tables: list[str]
) -> GateVerdict:
    batches = {table: latest_batch(con, table) for table in tables}
    return GateVerdict(target, _problems(con, config, tables), batches)


def _problems(con: duckdb.DuckDBPyConnection, config: HubConfig, tables: list[str]) -> list[str]:
    checks = table_checks(config)
    problems: list[str] = []
    for table in tables:
        blocking: list[CheckSpec] = [s for s in checks.get(table, []) if s.blocking]
        if not blocking:
            problems.append(f"{table}: no blocking check covers it, so it cannot be proven")
            continue
        if latest_batch(con, table) is None:
            problems.append(f"{table}: never materialized, so its checks never ran")
            continue
        problems += build_problems(con, table)
        for state in check_states(con, table, blocking):
            if state.state != "passed":
                problems.append(f"{table}: check {state.spec.name} {_SAID[state.state]}")
    return problems


_OUT_OF_DATE = (
    "has not run on the current data",
    "which is no longer current",
    "never materialized",
)
"What a problem says when a rebuild, not a fix of the data, opens the gate."
_SAID = {
    "failed": "failed",
    "errored": "could not be evaluated (error)",
    "stale": "has not run on the current data",
    "never run": "has not run on the current data",
}


@dataclass(frozen=True)
class CheckState:
    spec: CheckSpec
    state: str
    "`passed`, `failed`, `errored`, `stale` (it ran on an older batch) or `never run`."
    unexpected_count: int | None = None
    evaluated_at: str | None = None


def check_states(
    con: duckdb.DuckDBPyConnection, table: str, specs: list[CheckSpec]
) -> list[CheckState]:
    """Where each check of `table` stands on the table's current data."""
    latest = results.latest(con, table)
    current = data_versions(con, specs)
    states = []
    for spec in specs:
        found = latest.get(spec.name)
        if found is None:
            states.append(CheckState(spec, "never run"))
            continue
        state = (
            "stale"
            if found.data_version != current[spec.name]
            else ("errored" if found.passed is None else "passed" if found.passed else "failed")
        )
        states.append(CheckState(spec, state, found.unexpected_count, found.evaluated_at))
    return states


def build_problems(con: duckdb.DuckDBPyConnection, table: str) -> list[str]:
    """A derived table whose last build failed, or built from an input batch that is no
    longer current: what reads it would read data that lags its sources."""
    if table.partition(".")[0] not in ("unified", "serve"):
        return []
    problems = []
    failure = results.failed_build(con, table)
    if failure:
        problems.append(f"{table}: its last build failed ({failure}); it still holds older data")
    inputs = batch_inputs(con, table)
    if inputs is None:
        return [*problems, f"{table}: it does not record what it was built from; rebuild it"]
    for source, batch in inputs.items():
        if latest_batch(con, source) != batch:
            problems.append(
                f"{table}: built from batch {batch} of {source}, which is no longer current; "
                f"rebuild {table}"
            )
    return problems


def entity_of(ref: str) -> str:
    """The table whose checks prove `ref`: a crosswalk's are its entity's."""
    layer, _, name = ref.partition(".")
    return f"unified.{name.removesuffix('_xref')}" if layer == "unified" else ref
