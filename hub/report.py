"""What the store holds now: rows per table, rejects, checks, drafts and the gate."""

from __future__ import annotations

import os
import shutil
import sys
from dataclasses import dataclass
from datetime import timedelta
from pathlib import Path
from typing import TYPE_CHECKING, Any

from rich import box
from rich.console import Console
from rich.table import Table
from rich.text import Text

from hub import cases, drafts, gate
from hub.config import HubConfig, load_config
from hub.demo import DEMO_CONFIG
from hub.runner import fix_for
from hub.secrets import scrub
from hub.store import Store, table_exists
from quality.specs import table_checks

if TYPE_CHECKING:
    import duckdb


@dataclass
class TableStatus:
    table: str
    batch: str | None
    rows: int | None
    rejected: int | None
    checks: list[gate.CheckState]
    "Its checks as hub.yaml declares them now, each where it stands on the current data."
    problems: list[str]
    "A derived table's failed build or stale inputs."

    def as_dict(self) -> dict[str, Any]:
        return {
            "table": self.table,
            "batch": self.batch,
            "rows": self.rows,
            "rejected": self.rejected,
            "problems": self.problems,
            "checks": [
                {
                    "name": c.spec.name,
                    "severity": "error" if c.spec.blocking else "warn",
                    "blocking": c.spec.blocking,
                    "state": c.state,
                    "unexpected_count": c.unexpected_count,
                    "evaluated_at": c.evaluated_at,
                }
                for c in self.checks
            ],
        }


@dataclass
class Status:
    tables: list[TableStatus]
    "Every checked table hub.yaml declares, in its order."
    drafts: dict[str, int]
    "status -> count"
    gates: dict[str, gate.GateVerdict]
    "agent -> its gate"
    first_pending: str | None
    "The oldest pending draft, for the next-steps hint."
    cases: list[dict[str, Any]] | None = None
    "The onboarding cases not closed (delivered or duplicate), oldest signup first; None when "
    "no agent has `signups:`."

    def checks(self, *states: str) -> list[tuple[str, gate.CheckState]]:
        return [(t.table, c) for t in self.tables for c in t.checks if c.state in states]

    def as_dict(self) -> dict[str, Any]:
        return {
            "tables": [t.as_dict() for t in self.tables],
            "agents": [
                {"agent": name, "may_run": verdict.open, "problems": verdict.problems}
                for name, verdict in self.gates.items()
            ],
            "drafts": self.drafts,
            **({"open_cases": self.cases} if self.cases is not None else {}),
        }


def status(config: HubConfig, store: Store) -> Status:
    """Where the store stands, by the checks hub.yaml declares now: a check removed from it
    is gone from here (its history stays in `meta.check_results`)."""
    with store.reader() as con:
        batches = {
            table: (batch, rows, rejected)
            for table, batch, rows, rejected in con.execute(
                "SELECT table_name, arg_max(batch_id, seq), arg_max(rows, seq), "
                "arg_max(rejected, seq) FROM meta.batches GROUP BY table_name"
            ).fetchall()
        }
        tables = [
            TableStatus(
                table,
                *batches.get(table, (None, None, None)),
                gate.check_states(con, table, specs),
                gate.build_problems(con, table) if table in batches else [],
            )
            for table, specs in table_checks(config).items()
        ]
        counts = drafts.counts(con)
        gates = {name: gate.evaluate_agent(con, config, name) for name in config.agents}
        pending = drafts.first_pending(con)
        still_open = open_cases(con, config)
    return Status(tables, counts, gates, pending, still_open)


def open_cases(con: duckdb.DuckDBPyConnection, config: HubConfig) -> list[dict[str, Any]] | None:
    """The cases not closed, with their age; None when no agent has `signups:`, [] on a
    store from before cases (a reader cannot create `agents.cases`; the next run does)."""
    if not any(agent.signups for agent in config.agents.values()):
        return None
    if not table_exists(con, "agents", "cases"):
        return []
    frame = cases.clock(con)
    frame = frame[~frame["status"].isin(cases.CLOSED)]
    return [
        {
            "agent": row["agent"],
            "client": row["signup_key"],
            "subject_name": row["subject_name"],
            "status": row["status"],
            "signed_up_at": row["signed_up_at"].isoformat(),
            "age": human_age(row["age"]),
            "age_seconds": int(row["age"].total_seconds()),
            "draft_id": row["draft_id"],
            "reason": row["reason"] if row["status"] == "blocked" else None,
        }
        for row in frame.astype(object).where(frame.notna(), None).to_dict("records")
    ]


def human_age(age: timedelta) -> str:
    """`3 d 4 h`, `2 h 5 min`, `12 min`: how long a case has been open, at a glance."""
    minutes = max(int(age.total_seconds() // 60), 0)
    days, minutes = divmod(minutes, 24 * 60)
    hours, minutes = divmod(minutes, 60)
    if days:
        return f"{days} d {hours} h"
    return f"{hours} h {minutes} min" if hours else f"{minutes} min"


def print_summary(
    console: Console,
    path: Path,
    seconds: dict[str, float],
    run_id: str | None,
    failures: dict[str, str] | None = None,
    show_cases: bool = False,
) -> Status:
    """The summary `hub demo`, `hub run` and `hub status` print, then the run's `failures`
    (step -> why) and the next steps; returns what it shows. `show_cases`: the open
    onboarding cases as a table (`hub status`), not just their count."""
    loaded = load_config(path)
    state = status(loaded, Store.of(loaded))
    tables = Table("table", "rows", "rejected", title="Store " + str(loaded.store.path))
    for table in state.tables:
        if table.batch is not None:
            rejected = f"[red]{table.rejected}[/]" if table.rejected else "0"
            tables.add_row(table.table, str(table.rows), rejected)
    console.print(tables)
    failed = state.checks("failed", "errored")
    waiting = state.checks("stale", "never run")
    console.print(
        f"Checks: [green]{len(state.checks('passed'))} passed[/], "
        f"{'[red]' if failed else ''}{len(failed)} failed{'[/]' if failed else ''}"
        + (f", {len(waiting)} not run on the current data" if waiting else "")
    )
    for table, check in failed:
        kind = "[red]blocking[/]" if check.spec.blocking else "[yellow]warning[/]"
        what = " (error)" if check.state == "errored" else ""
        console.print(f"  ✗ {table}: {check.spec.name}{what} ({kind})")
    for problem in (p for t in state.tables for p in t.problems):
        console.print(f"  ✗ {problem}", markup=False)
    for agent, verdict in state.gates.items():
        if verdict.open:
            console.print(f"Agent [bold]{agent}[/]: gate open.")
        else:
            console.print(f"Agent [bold]{agent}[/]: [red]blocked[/] — ", end="")
            console.print(as_typed(verdict.message()), markup=False)
    console.print(
        "Drafts: "
        + (", ".join(f"{n} {s}" for s, n in state.drafts.items()) if state.drafts else "none")
    )
    if state.cases and show_cases:
        print_cases(console, loaded, state.cases)
    elif state.cases:
        statuses = [case["status"] for case in state.cases]
        counted = ", ".join(f"{statuses.count(s)} {s}" for s in dict.fromkeys(statuses))
        console.print(f"Open cases: {counted} (`{hub_command()} status` lists them).")
    if seconds:
        console.print("Seconds per stage: " + ", ".join(f"{k} {v:.1f}" for k, v in seconds.items()))
    if run_id:
        console.print(f"Dagster run {run_id} (see it in `{hub_command()} ui`).")
    print_failures(console, failures or {})
    lines = [
        f"  {cmd:<35} {'# ' + why if why else ''}".rstrip()
        for cmd, why in next_steps(loaded, state, bool(failures))
    ]
    console.print("\nNext:", *lines, sep="\n", markup=False, soft_wrap=True)
    return state


def print_cases(console: Console, config: HubConfig, open_cases: list[dict[str, Any]]) -> None:
    """The open onboarding cases, oldest signup first: who, where each stands, since when;
    then why each blocked one is blocked and where its row waits."""
    colours = {"blocked": "red", "failed": "red", "awaiting approval": "yellow"}
    grid = Table(
        title="Open onboarding cases",
        title_justify="left",
        box=box.SIMPLE_HEAD,
        pad_edge=False,
        collapse_padding=True,
    )
    grid.add_column("client", no_wrap=True)
    grid.add_column("name", min_width=10)
    for heading in ("status", "signed up", "age", "draft"):
        grid.add_column(heading, no_wrap=True)
    for case in open_cases:
        grid.add_row(
            Text(case["client"]),
            Text(case["subject_name"] or ""),
            Text(case["status"], style=colours.get(case["status"], "green")),
            Text(case["signed_up_at"][:10]),
            Text(case["age"]),
            Text(case["draft_id"] or ""),
        )
    console.print(grid)
    blocked = [case for case in open_cases if case["reason"]]
    for case in blocked:
        line = Text.assemble(("  ✗ ", "red"), case["reason"])
        console.print(line, highlight=False)
    for table in sorted({config.agents[case["agent"]].signups.table for case in blocked}):
        query = f"select location, reason from rejects.{table}"
        console.print(
            "  Fixed at the source, the next load takes it; its row and the fix: "
            f"`{hub_command()} sql --as steward '{query}'`",
            markup=False,
            highlight=False,
        )


def print_failures(console: Console, failures: dict[str, str]) -> None:
    """Each failed step with the real cause and, when the cause names none, where to fix it."""
    for step, why in failures.items():
        fix = "" if "Fix" in why else fix_for(step)
        console.print(Text.assemble((f"{step} failed: ", "red"), as_typed(scrub(why))))
        if fix:
            console.print(f"  {as_typed(fix)}", markup=False, highlight=False)


def next_steps(config: HubConfig, state: Status, failed: bool) -> list[tuple[str, str]]:
    """Commands worth running now, as the user can type them in this project."""
    hub = hub_command()
    draft = state.first_pending
    blocked = [agent for agent, verdict in state.gates.items() if not verdict.open]
    steps = [(f"{hub} ui", "the failed step's full log, under Runs")] if failed else []
    if draft:
        steps += [
            (f"{hub} draft {draft}", "read a draft and its citations"),
            (f"{hub} approve {draft} --by you", "the human at the exit"),
            (f"{hub} deliver", "approved drafts -> outbox/*.eml, once each"),
        ]
    elif blocked:
        steps.append((f"{hub} checks", f"the checks that keep agent {blocked[0]} from running"))
    elif config.project == load_config(DEMO_CONFIG).project:
        steps.append((f"{hub} demo --dirty", "watch failing checks stop the agent"))
    steps.append((f"{hub} audit verify", "every step is in the hash-chained audit trail"))
    if not failed:
        steps.append((f"{hub} ui", "the same graph, its runs and checks in Dagster"))
    built = [t.table for t in state.tables if t.batch and t.table.startswith("unified.")]
    if built:
        query = f'import hub; print(hub.sql("select * from {built[0]}"))'
        steps.append((f"{_as_typed(sys.executable, 'python')} -c '{query}'", ""))
    if config.project == load_config(DEMO_CONFIG).project and not (failed or blocked):
        signup = (
            f'{hub} demo signup --name "Quayside Health Inc" --email ada.byron@quaysidehealth.com'
        )
        steps.append((signup, "a new client signs up: one case, one draft"))
    return steps


def hub_command() -> str:
    """`hub` as the user can type it here: `hub` when PATH finds this one, else its path
    (`.venv/bin/hub` when the venv is not activated), or `python -m hub.cli` when run so."""
    if Path(sys.argv[0]).name == "hub":
        return _as_typed(sys.argv[0], "hub")
    return f"{_as_typed(sys.executable, 'python')} -m hub.cli"


def as_typed(message: str) -> str:
    """`hub ...` quoted in a message, as the user can type it here."""
    hub = hub_command()
    return message if hub == "hub" else message.replace("`hub ", f"`{hub} ")


def _as_typed(program: str, name: str) -> str:
    """`name` when PATH finds this very program, else its path, relative when shorter."""
    found = shutil.which(name)
    if found and Path(found).resolve() == Path(program).resolve():
        return name
    absolute = str(Path(program).absolute())
    relative = os.path.relpath(absolute)
    relative = relative if "/" in relative else f"./{relative}"
    return relative if len(relative) < len(absolute) else absolute
