"""The foundation gate: no agent runs on data that has not been proven.

Dagster's blocking checks only stop downstream steps inside one run. The gate closes the
other doors (a later run, a schedule, a click on the agent asset alone): before an agent
does anything, every blocking check on every table it reads, transitively, must have passed
on the table's *current* batch. A check that never ran on that batch counts as missing.
"""

from __future__ import annotations

from dataclasses import dataclass

import duckdb

from hub.config import HubConfig
from hub.store import latest_batch
from quality import results
from quality.specs import table_checks


@dataclass(frozen=True)
class GateVerdict:
    agent: str
    problems: list[str]

    @property
    def open(self) -> bool:
        return not self.problems

    def message(self) -> str:
        if self.open:
            return f"foundation gate open for agent {self.agent}: every blocking check passed."
        lines = "\n".join(f"  - {p}" for p in self.problems)
        return (
            f"foundation gate closed: agent {self.agent} will not run on unproven data.\n{lines}\n"
            "Fix the data (see `rejects.*` and the check metadata in the Dagster UI), "
            "rematerialize the tables above with their checks, then run the agent again."
        )


def upstream_tables(config: HubConfig, ref: str) -> list[str]:
    """`ref` and every table it is built from, nearest first."""
    seen: list[str] = []
    pending = [ref]
    while pending:
        table = pending.pop(0)
        if table in seen:
            continue
        seen.append(table)
        layer, _, name = table.partition(".")
        if layer == "serve" and name in config.serve:
            pending += config.serve[name].inputs
        elif layer == "unified" and name in config.entities:
            pending += [f"raw.{s.table}" for s in config.entities[name].sources]
        elif layer == "unified" and name.endswith("_xref"):
            pending.append(f"unified.{name.removesuffix('_xref')}")
    return seen


def agent_inputs(config: HubConfig, agent: str) -> list[str]:
    tables: list[str] = []
    for product in config.agents[agent].products:
        tables += [t for t in upstream_tables(config, f"serve.{product}") if t not in tables]
    return tables


def evaluate(con: duckdb.DuckDBPyConnection, config: HubConfig, agent: str) -> GateVerdict:
    checks = table_checks(config)
    problems: list[str] = []
    for table in agent_inputs(config, agent):
        blocking = [s.name for s in checks.get(table, []) if s.blocking]
        if not blocking:
            continue
        current = latest_batch(con, table)
        if current is None:
            problems.append(f"{table}: never materialized, so its checks never ran")
            continue
        latest = results.latest(con, table)
        for name in blocking:
            passed, batch = latest.get(name, (None, None))
            if batch != current:
                problems.append(f"{table}: check {name} has not run on the current data")
            elif passed is None:
                problems.append(f"{table}: check {name} could not be evaluated (error)")
            elif not passed:
                problems.append(f"{table}: check {name} failed")
    return GateVerdict(agent, problems)
