"""What the store holds now: rows per table, rejects, checks, drafts and the gate."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

from rich.console import Console
from rich.table import Table

from hub import drafts, gate
from hub.config import HubConfig, load_config
from hub.store import Store


@dataclass
class Status:
    tables: list[tuple[str, int, int]]
    "(table, rows, rejected in its latest load)"
    checks_passed: int
    checks_failed: list[tuple[str, str, bool]]
    "(table, check, blocking) that failed or errored on their latest evaluation"
    drafts: dict[str, int]
    "status -> count"
    gates: dict[str, gate.GateVerdict]
    "agent -> its gate"
    first_pending: str | None
    "The oldest pending draft, for the next-steps hint."


def status(config: HubConfig, store: Store) -> Status:
    with store.reader() as con:
        tables = con.execute(
            "SELECT table_name, arg_max(rows, seq), arg_max(rejected, seq) "
            "FROM meta.batches GROUP BY table_name ORDER BY table_name"
        ).fetchall()
        checks = con.execute(
            "SELECT table_name, check_name, passed, blocking FROM meta.check_results "
            "QUALIFY row_number() OVER (PARTITION BY table_name, check_name "
            "ORDER BY seq DESC) = 1 ORDER BY table_name, check_name"
        ).fetchall()
        counts = drafts.counts(con)
        gates = {name: gate.evaluate_agent(con, config, name) for name in config.agents}
        pending = drafts.first_pending(con)
    return Status(
        tables=[(t, int(r), int(j)) for t, r, j in tables],
        checks_passed=sum(1 for c in checks if c[2]),
        checks_failed=[(t, n, bool(b)) for t, n, p, b in checks if not p],
        drafts=counts,
        gates=gates,
        first_pending=pending,
    )


def print_summary(
    console: Console, path: Path, seconds: dict[str, float], run_id: str | None
) -> None:
    """The summary `hub demo`, `hub run` and `hub status` print."""
    loaded = load_config(path)
    state = status(loaded, Store.of(loaded))
    tables = Table("table", "rows", "rejected", title="Store " + str(loaded.store.path))
    for name, rows, rejected in state.tables:
        tables.add_row(name, str(rows), f"[red]{rejected}[/]" if rejected else "0")
    console.print(tables)
    failed = len(state.checks_failed)
    console.print(
        f"Checks: [green]{state.checks_passed} passed[/], "
        f"{'[red]' if failed else ''}{failed} failed{'[/]' if failed else ''}"
    )
    for table, check, blocking in state.checks_failed:
        kind = "[red]blocking[/]" if blocking else "[yellow]warning[/]"
        console.print(f"  ✗ {table}: {check} ({kind})")
    for agent, verdict in state.gates.items():
        if verdict.open:
            console.print(f"Agent [bold]{agent}[/]: gate open.")
        else:
            console.print(f"Agent [bold]{agent}[/]: [red]blocked[/] — ", end="")
            console.print(verdict.message(), markup=False)
    console.print(
        "Drafts: "
        + (", ".join(f"{n} {s}" for s, n in state.drafts.items()) if state.drafts else "none")
    )
    if seconds:
        console.print("Seconds per stage: " + ", ".join(f"{k} {v:.1f}" for k, v in seconds.items()))
    if run_id:
        console.print(f"Dagster run {run_id} (see it in `hub ui`).")
    draft = state.first_pending
    blocked = [agent for agent, verdict in state.gates.items() if not verdict.open]
    if draft:
        steps = [
            (f"hub draft {draft}", "read a draft and its citations"),
            (f"hub approve {draft} --by you", "the human at the exit"),
            ("hub deliver", "approved drafts -> outbox/*.eml, once each"),
        ]
    elif blocked:
        steps = [(f"hub run --select agents/{blocked[0]}", "the gate refuses, naming the checks")]
    else:
        steps = [("hub demo --dirty", "watch failing checks stop the agent")]
    steps += [
        ("hub audit verify", "every step is in the hash-chained audit trail"),
        ("hub ui", "the same graph, its runs and checks in Dagster"),
        ("python -c 'import hub; print(hub.sql(\"select * from unified.customer\"))'", ""),
    ]
    lines = [f"  {cmd.ljust(36)}{'# ' + why if why else ''}".rstrip() for cmd, why in steps]
    console.print("\nNext:", *lines, sep="\n", markup=False, soft_wrap=True)
