"""`hub`: the command line of Groundwork.

Every command reads the project from `--config`, `$HUB_CONFIG` or `./hub.yaml`. Errors are
printed as one clear message (what, where, the fix) with exit code 2, never a traceback.
"""

from __future__ import annotations

import json
import os
import shutil
import signal
import subprocess
import sys
import time
from pathlib import Path
from typing import Annotated

import typer
from rich.console import Console
from rich.markup import escape
from rich.table import Column, Table
from rich.text import Text

from hub import report
from hub.config import AUDIENCES, ConfigError, HubConfig, config_path, load_config
from hub.report import as_typed, print_failures, print_summary
from hub.secrets import scrub
from hub.store import Store, StoreError

app = typer.Typer(
    help="Groundwork: unify siloed sources into a governed DuckDB store, prove the data, "
    "then let agents draft behind a human approval.",
    no_args_is_help=True,
    add_completion=False,
)
audit_app = typer.Typer(help="The hash-chained audit trail.", no_args_is_help=True)
app.add_typer(audit_app, name="audit")
demo_app = typer.Typer()
app.add_typer(demo_app, name="demo")
contract_app = typer.Typer(
    help="Data contracts in and out (Open Data Contract Standard v3).", no_args_is_help=True
)
app.add_typer(contract_app, name="contract")
console = Console()

ConfigOption = Annotated[
    Path | None, typer.Option("--config", "-c", help="hub.yaml to use (default: ./hub.yaml).")
]


def _store(config: Path | None) -> Store:
    loaded = load_config(config)
    return Store.of(loaded)


@app.command()
def init(
    path: Annotated[Path, typer.Argument(help="Where to write the file.")] = Path("hub.yaml"),
    force: Annotated[bool, typer.Option(help="Overwrite an existing file.")] = False,
    origin: Annotated[
        str | None,
        typer.Option(
            "--from",
            help="Propose sources and primary keys from a folder of CSV/Parquet/JSON files, "
            "a SQLite file or a database URL (postgresql://user@host/db).",
        ),
    ] = None,
    schema: Annotated[
        str | None, typer.Option(help="With a database --from: the schema to read.")
    ] = None,
) -> None:
    """Write a starter hub.yaml: one source and its checks, the other sections commented
    out; with --from, the sources and primary keys your files or database suggest."""
    from hub.starter import write_starter

    for line in write_starter(path, force=force, origin=origin, schema=schema):
        console.print(line, markup=False, highlight=False, soft_wrap=True)


@demo_app.callback(invoke_without_command=True)
def demo(
    ctx: typer.Context,
    dirty: Annotated[
        bool, typer.Option(help="Inject defects: the checks fail and the agent is stopped.")
    ] = False,
    seed: Annotated[int, typer.Option(help="Seed of the generated data.")] = 7,
    keep_store: Annotated[
        bool, typer.Option(help="Keep the existing store instead of starting fresh.")
    ] = False,
    config: ConfigOption = None,
) -> None:
    """Generate the demo sources, run the whole graph, and print a summary. `hub demo
    signup` then simulates a new client signing up."""
    if ctx.invoked_subcommand:
        if dirty or keep_store or seed != 7 or config:
            raise typer.BadParameter(
                f"--dirty, --seed, --keep-store and --config go with `hub demo` alone; "
                f"give `hub demo {ctx.invoked_subcommand}` its own options after its name."
            )
        return
    from hub.demo import DEMO_CONFIG, SOURCES_FOLDER, demo_services
    from hub.demo.generate import generate
    from hub.runner import materialize

    path = config_path(config)
    if not path.exists():
        shutil.copyfile(DEMO_CONFIG, path)
        console.print(f"Wrote the demo project's configuration to {path}.")
    loaded = load_config(path)
    if loaded.project != load_config(DEMO_CONFIG).project:
        raise ConfigError(
            f"{path} is project {loaded.project!r}, not the demo, and `hub demo` starts from a "
            "fresh store. Fix: run `hub demo` in an empty folder, or pass --config demo.yaml."
        )
    if not keep_store:
        store = Store.of(loaded)
        stale = [store.path, store.audit_anchor]
        stale += [loaded.resolve(p) for p in (loaded.store.agent_path, loaded.store.analyst_path)]
        for target in stale:
            _remove_file(target)
        outbox = loaded.resolve(loaded.delivery.outbox)
        for sent in outbox.glob("*.eml") if outbox.is_dir() else []:
            sent.unlink()
    started = time.monotonic()
    counts = generate(loaded.root / SOURCES_FOLDER, seed=seed, dirty=dirty)
    generated = time.monotonic() - started
    console.print(
        f"Generated the {'[red]dirty[/] ' if dirty else ''}demo sources in "
        f"{loaded.root / SOURCES_FOLDER}: " + ", ".join(f"{v} {k}" for k, v in counts.items())
    )
    with demo_services(loaded.root), console.status("Materializing the whole graph…"):
        report = materialize(path)
    unexpected = report.unexpected_failures() if dirty else report.failures
    seconds = {"generate": round(generated, 2), **report.seconds}
    print_summary(console, path, seconds, report.run_id, unexpected)
    if unexpected:
        raise typer.Exit(1)


@demo_app.command("signup")
def demo_signup(
    name: Annotated[str, typer.Option("--name", help="The company that signs up.")],
    email: Annotated[
        str | None,
        typer.Option(
            help="Its e-mail, as typed in the web form (none, or an invalid one, "
            "is blocked at load)."
        ),
    ] = None,
    config: ConfigOption = None,
) -> None:
    """Simulate a new client signing up in the demo CRM (a client, its primary contact and
    its onboarding note); the sensor or `hub run` then drafts for it."""
    from hub.demo import SOURCES_FOLDER
    from hub.demo.generate import sign_up
    from hub.recipients import usable_address

    if not name.strip():
        raise typer.BadParameter('a company name, e.g. "Quayside Health Inc".')
    loaded = _demo_project(config)
    done = sign_up(loaded.root / SOURCES_FOLDER, name.strip(), email)
    client, (_, person, _, _, role) = done.client, done.client.contacts[0]
    said = (
        f"Signed up {client.client_id} {client.company} ({email or 'no e-mail'}) in "
        f"{SOURCES_FOLDER}/crm.sqlite: one client (created_at {done.created_at}), its primary "
        f"contact {person} ({role}), and its onboarding note "
        f"{done.note.relative_to(loaded.root)} (kick-off {done.kickoff})."
    )
    console.print(said, markup=False, highlight=False)
    _, problem = usable_address(email)
    if problem:
        console.print(
            f"Its e-mail is not usable ({problem}): the load keeps the row out of the store "
            "(in rejects, with the reason), its case is blocked and no agent runs for it.",
            markup=False,
            highlight=False,
        )
    lines = [
        f"  {cmd:<35} # {why}" for cmd, why in _after_signup(loaded, client.client_id, problem)
    ]
    console.print("\nNext:", *lines, sep="\n", markup=False, highlight=False, soft_wrap=True)


def _after_signup(loaded: HubConfig, key: str, problem: str) -> list[tuple[str, str]]:
    """What happens to signup `key` next, and the commands that show it."""
    hub = report.hub_command()
    agents = {name: agent for name, agent in loaded.agents.items() if agent.signups}
    if not agents:  # hub.yaml was changed: no sensor, the next run drafts for everyone
        return [(f"{hub} run", "no agent has `signups:` in hub.yaml: the next run drafts for it")]
    name, agent = next(iter(agents.items()))
    if problem:
        picked = f"one new partition {key} of agents/{name}, whose run stops at the agent"
        query = f"select location, reason from rejects.{agent.signups.table}"
        seen = f"{key}'s case: blocked, and why"
        then = [(f"{hub} sql --as steward '{query}'", "its row, held back, and the fix")]
    else:
        picked = f"one new partition {key} of agents/{name}, one run, one draft"
        seen = f"{key}'s case: awaiting approval, and its age"
        then = [
            (f"{hub} drafts --status pending", "its draft's id"),
            (f"{hub} draft ID", "read it"),
            (f"{hub} approve ID --by NAME", f"then `{hub} deliver` (in the UI: the sensor)"),
        ]
    return [
        (f"{hub} ui", f"while it runs, new_signups_sensor takes {key} within 30 s: {picked}"),
        (f"{hub} run", "without the UI: the same, for every new signup"),
        (f"{hub} status", seen),
        *then,
    ]


def _demo_project(config: Path | None) -> HubConfig:
    """The demo project `hub demo` built here, or a ConfigError saying how to get one."""
    from hub.demo import DEMO_CONFIG, SOURCES_FOLDER

    path = config_path(config)
    fix = "Fix: run `hub demo` in an empty folder first, then this command in that folder."
    if not path.exists():
        raise ConfigError(f"no demo project here: {path} does not exist. {fix}")
    loaded = load_config(path)
    if loaded.project != load_config(DEMO_CONFIG).project:
        raise ConfigError(f"{path} is project {loaded.project!r}, not the demo. {fix}")
    if not (loaded.root / SOURCES_FOLDER / "crm.sqlite").exists():
        raise ConfigError(f"the demo's sources are not in {loaded.root / SOURCES_FOLDER}. {fix}")
    return loaded


def _remove_file(target: Path) -> None:
    """Delete one file `hub demo` starts over from; never a folder (a store path that names
    one is a configuration error, and nothing is deleted)."""
    if target.is_dir():
        raise ConfigError(
            f"{target} is a folder, where hub.yaml's store settings name a file; `hub demo` "
            "deletes only files. Fix: point store.path, agent_path and analyst_path at files."
        )
    target.unlink(missing_ok=True)


@app.command()
def run(
    select: Annotated[
        list[str] | None,
        typer.Option("--select", "-s", help="Asset key to run, e.g. agents/onboarding (repeat)."),
    ] = None,
    full_refresh: Annotated[
        bool,
        typer.Option(help="Reload sources from scratch: replace, and forget incremental cursors."),
    ] = False,
    config: ConfigOption = None,
) -> None:
    """Materialize the whole graph (or selected assets) as a Dagster run."""
    from hub.demo import demo_services
    from hub.runner import materialize

    path = config_path(config)
    loaded = load_config(path)
    with demo_services(loaded.root), console.status("Materializing…"):
        report = materialize(path, select, full_refresh=full_refresh)
    if loaded.lineage.openlineage:
        from hub.lineage_send import lost_events

        for warning in lost_events(loaded):
            console.print(f"! {warning}", style="yellow", markup=False, highlight=False)
    if Store.of(loaded).path.exists():  # failed checks are in the summary, other failures below
        print_summary(console, path, report.seconds, report.run_id, report.unexpected_failures())
    else:  # a first run that failed before it wrote anything: the failure is all there is
        print_failures(console, report.failures)
    if not report.success:
        raise typer.Exit(1)


JsonOption = Annotated[bool, typer.Option("--json", help="Print JSON, for scripts and CI.")]


@app.command()
def status(config: ConfigOption = None, as_json: JsonOption = False) -> None:
    """Rows per table, rejected rows, checks, drafts, the agents' gates and the open
    onboarding cases with their age. Exit code 1 when an agent may not run."""
    if as_json:
        loaded = load_config(config)
        state = report.status(loaded, Store.of(loaded))
        print(json.dumps(state.as_dict(), indent=2, default=str))
    else:
        state = print_summary(console, config_path(config), {}, None, show_cases=True)
    if not all(verdict.open for verdict in state.gates.values()):
        raise typer.Exit(1)


@app.command()
def checks(
    table: Annotated[
        str | None, typer.Argument(help="Only this table, e.g. raw.crm__clients.")
    ] = None,
    config: ConfigOption = None,
    as_json: JsonOption = False,
) -> None:
    """Every check of every table (or of TABLE) on the current data: passed, failed,
    errored, stale (it ran on an older batch) or never run. Exit code 1 when a blocking
    check shown has not passed on the current data."""
    loaded = load_config(config)
    state = report.status(loaded, Store.of(loaded))
    tables = [t for t in state.tables if table in (None, t.table)]
    if not tables:
        names = ", ".join(t.table for t in state.tables)
        raise ConfigError(f"no checked table {table!r}. Fix: use one of {names}.")
    if as_json:
        print(json.dumps([t.as_dict() for t in tables], indent=2, default=str))
    else:
        _print_checks(tables)
    if any(c.spec.blocking and c.state != "passed" for t in tables for c in t.checks):
        raise typer.Exit(1)


def _print_checks(tables: list[report.TableStatus]) -> None:
    colours = {"passed": "green", "failed": "red", "errored": "red"}
    for table in tables:
        grid = Table(title=f"{table.table} · batch {table.batch or 'none'}", title_justify="left")
        grid.add_column("check", overflow="fold")
        for heading in ("severity", "state", "unexpected", "evaluated (UTC)"):
            grid.add_column(heading, no_wrap=True)
        for check in table.checks:
            colour = colours.get(check.state, "yellow")
            grid.add_row(
                escape(check.spec.name),
                "error" if check.spec.blocking else "warn",
                f"[{colour}]{check.state}[/]",
                "" if check.unexpected_count is None else str(check.unexpected_count),
                (check.evaluated_at or "")[:19],
            )
        console.print(grid)
        for problem in table.problems:
            console.print(f"✗ {problem}", markup=False)


@app.command()
def sql(
    query: Annotated[str, typer.Argument(help="One SELECT on the store (read-only).")],
    audience: Annotated[
        str | None,
        typer.Option(
            "--as",
            help="Read as analyst (masked; the default), steward (everything) or agent.",
        ),
    ] = None,
    config: ConfigOption = None,
) -> None:
    """Run one read-only SELECT in the sandbox, as an audience, and print the result."""
    import hub

    _print_frame(hub.sql(query, audience=audience, config=str(config) if config else None))


@contract_app.command("export")
def contract_export(
    product: Annotated[
        str, typer.Argument(help="A serve product, or a table as raw.<source>__<table>.")
    ],
    out: Annotated[
        Path | None, typer.Option("--out", help="Write it to this file (default: stdout).")
    ] = None,
    audience: Annotated[
        str | None,
        typer.Option(
            "--as",
            help="The values of its rules on PII columns as this audience sees them "
            "(default: access.default_audience; steward: in clear).",
        ),
    ] = None,
    config: ConfigOption = None,
) -> None:
    """Print a product's ODCS v3 contract: columns with types, descriptions and PII classes,
    its checks as quality rules, its owners and its freshness."""
    from hub.contracts import contract_yaml

    if audience is not None and audience not in AUDIENCES:
        raise typer.BadParameter(f"use one of {', '.join(AUDIENCES)}", param_hint="'--as'")
    text = contract_yaml(load_config(config), product, audience=audience)
    if out is None:
        sys.stdout.write(text)
        return
    out.write_text(text)
    console.print(f"Wrote the contract of {product} to {out}.", markup=False, highlight=False)


@contract_app.command("import")
def contract_import(
    file: Annotated[Path, typer.Argument(help="An ODCS v3 contract (YAML).")],
    table: Annotated[
        str | None,
        typer.Option("--table", help="Check this table (default: each schema's physicalName)."),
    ] = None,
    config: ConfigOption = None,
) -> None:
    """Turn a contract's promises into blocking checks in hub.yaml (types, required, unique,
    valid values, ranges, custom expectations); comments and layout are kept."""
    from hub.contracts_import import import_contract

    for done in import_contract(config, file, table):
        said = f"{done.table}: {len(done.added)} check(s) added"
        said += f" ({', '.join(done.added)})" if done.added else ""
        if done.made_blocking:
            said += f", made blocking: {', '.join(done.made_blocking)}"
        said += f", {len(done.present)} already there."
        console.print(said, markup=False, highlight=False)


@app.command("export")
def export_product(
    product: Annotated[str, typer.Argument(help="The serve product to write out.")],
    to: Annotated[Path, typer.Option("--to", help="The folder to write it to.")],
    fmt: Annotated[str, typer.Option("--format", help="parquet (default) or csv.")] = "parquet",
    audience: Annotated[
        str | None,
        typer.Option("--as", help="Masked as this audience sees it (default: the project's)."),
    ] = None,
    by: Annotated[
        str | None, typer.Option("--by", help="Who exports (default: your user name).")
    ] = None,
    overwrite: Annotated[
        bool, typer.Option("--overwrite", help="Replace the files already in the folder.")
    ] = False,
    config: ConfigOption = None,
) -> None:
    """Write a governed product to an open file, masked for an audience, with its contract
    beside it (<product>.odcs.yaml); refused on unproven data; audited."""
    from hub.export import export_product as export
    from hub.export import login_name

    done = export(
        load_config(config), product, to, fmt, audience, by or login_name(), overwrite=overwrite
    )
    console.print(
        f"Wrote {done.rows} row(s) to {done.data} (sha256 {done.sha256[:12]}…) and its "
        f"contract to {done.contract}; the export is in the audit trail.",
        markup=False,
        highlight=False,
    )


@app.command()
def drafts(
    status: Annotated[
        str | None,
        typer.Option(help="Only this status: pending, approved, rejected, delivered, failed."),
    ] = None,
    config: ConfigOption = None,
) -> None:
    """List the agents' drafts (superseded ones with --status superseded), with a note: the
    draft a new one replaces and which of its inputs changed, or why it has its status."""
    from hub.drafts import list_drafts

    frame = list_drafts(_store(config), status)
    frame["created_at"] = frame["created_at"].dt.strftime("%Y-%m-%d %H:%M")
    frame = frame.rename(columns={"created_at": "created"})
    optional = ("review", "note", "decided_by")
    frame = frame.drop(columns=[c for c in optional if not frame[c].fillna("").astype(bool).any()])
    _print_frame(frame, whole=("draft_id", "status"))


@app.command()
def draft(
    draft_id: Annotated[str, typer.Argument(help="The draft's id (see `hub drafts`).")],
    config: ConfigOption = None,
) -> None:
    """Show one draft in full, with its recipient, review flags and citations, before you
    decide on it."""
    _show_draft(load_config(config), _store(config), draft_id)


def _show_draft(loaded, store: Store, draft_id: str, without: list[str] = ()) -> dict:  # noqa: ANN001 - HubConfig
    """Print the draft as the approver must see it; returns it with the hash of what was
    shown (recipient, content, the actions not in `without`), which an approval binds."""
    import json

    from hub import actions
    from hub.drafts import approval_digest, get
    from hub.recipients import recipient_of, usable_address

    with store.reader() as con:
        row = get(con, draft_id)
        found = recipient_of(con, loaded, row["subject_id"])
        address, problem = usable_address(found)
        proposed = actions.of_draft(con, draft_id)
        seen = approval_digest(con, row, address, list(without))
    console.print(row["title"], style="bold", markup=False, highlight=False, end="")
    console.print(f"  ({row['status']}, mode {row['mode']}, model {row['model']})", markup=False)
    if row["reason"]:
        console.print(f"Note: {row['reason']}", markup=False)
    console.print(f"To: {address or f'(cannot be delivered: {problem})'}", markup=False)
    reasons = json.loads(row["review_reasons"] or "[]")
    if reasons:
        console.print("[red]needs_review[/] — check these before you approve:")
        for reason in reasons:
            console.print(f"  ! {reason}", markup=False)
    console.print("")
    console.print(row["body"], markup=False)
    refused = [c for c in json.loads(row["tool_calls"] or "[]") if c.get("refused")]
    for call in refused:
        console.print(f"refused tool call: {call['refused']}", style="dim", markup=False)
    if proposed:
        console.print("\nProposed actions (approve --without ID to leave one out):")
        for action in proposed:
            leaving = " — left out" if action.action_id in without else ""
            said = f"  {action.action_id}  [{action.status}] {action.summary()}{leaving}"
            console.print(said, markup=False, highlight=False)
    console.print(f"\ncitations: {row['citations']}", style="dim", markup=False)
    return {**row, "needs_review": bool(reasons), "seen_sha256": seen}


@app.command()
def approve(
    draft_id: Annotated[str, typer.Argument(help="The draft to approve.")],
    by: Annotated[str, typer.Option("--by", help="Who approves (goes to the audit trail).")],
    yes: Annotated[
        bool, typer.Option("--yes", help="Approve a draft flagged needs_review without asking.")
    ] = False,
    without: Annotated[
        list[str] | None,
        typer.Option("--without", help="Leave out this proposed action (its id, A-…); repeatable."),
    ] = None,
    config: ConfigOption = None,
) -> None:
    """Approve a pending draft as it is now, with its proposed actions but those given with
    --without (its recipient, content and approved actions are bound by a hash); delivery
    then sends it and executes the actions, once each (sensor or `hub deliver`)."""
    from hub.drafts import DraftError
    from hub.drafts import approve as approve_draft

    loaded, store = load_config(config), _store(config)
    shown = _show_draft(loaded, store, draft_id, without or [])
    if shown["needs_review"] and not yes:
        if not sys.stdin.isatty():
            raise DraftError(
                f"draft {draft_id} is flagged needs_review (see above). Fix: read it, then "
                "approve with --yes, or reject it with --reason."
            )
        typer.confirm("This draft is flagged needs_review. Approve it anyway?", abort=True)
    digest = approve_draft(
        store, loaded, draft_id, by, seen=shown["seen_sha256"], without=without or []
    )
    left_out = f", without {', '.join(without)}" if without else ""
    console.print(
        f"Approved {draft_id}{left_out} (sha256 {digest[:12]}…). It is delivered by the next "
        "`hub deliver` or the sensor, only if it still hashes the same."
    )


@app.command()
def reject(
    draft_id: Annotated[str, typer.Argument(help="The draft to reject.")],
    by: Annotated[str, typer.Option("--by", help="Who rejects.")],
    reason: Annotated[str, typer.Option("--reason", help="Why (goes to the audit trail).")],
    config: ConfigOption = None,
) -> None:
    """Reject a pending draft; it is never delivered."""
    from hub.drafts import reject as reject_draft

    reject_draft(_store(config), draft_id, by, reason)
    console.print(f"Rejected {draft_id}.")


@app.command()
def deliver(
    resend: Annotated[
        str | None,
        typer.Option(
            "--resend",
            metavar="ID",
            help="First send this draft once more: one left sending (unknown: check the mail "
            "server first) or failed. With --by.",
        ),
    ] = None,
    arrived: Annotated[
        str | None,
        typer.Option(
            "--arrived",
            metavar="ID",
            help="Only record that this draft left sending did arrive (you found it on the "
            "mail server): delivered, nothing sent. With --by.",
        ),
    ] = None,
    by: Annotated[
        str | None,
        typer.Option(
            "--by", metavar="NAME", help="Who decides --resend or --arrived (for the audit trail)."
        ),
    ] = None,
    config: ConfigOption = None,
) -> None:
    """Run the delivery job now: approved drafts go to the SMTP server hub.yaml names, or
    into the outbox as .eml files. Says what became of each draft: delivered, failed (why),
    still approved (why; the next delivery tries again) or unknown — check the mail server
    (left sending: never sent again without --resend). Exit code 1 when any was not
    delivered."""
    from assets.delivery import run_outcomes
    from hub import drafts
    from hub.runner import dagster_instance, run_job

    path = config_path(config)
    loaded = load_config(path)
    if resend and arrived:
        raise drafts.DraftError("pass --resend or --arrived, not both.")
    if (resend or arrived) and not by:
        raise drafts.DraftError("say who decides: pass --by NAME.")
    if by and not (resend or arrived):
        raise drafts.DraftError("--by goes with --resend ID or --arrived ID.")
    if arrived:
        drafts.confirm_arrived(Store.of(loaded), arrived, by)
        said = f"Recorded {arrived} as delivered, on the word of {by}; nothing was sent."
        console.print(said, markup=False, highlight=False)
        return
    if resend:
        was = drafts.resend(Store.of(loaded), resend, by)
        said = f"{resend} was {was}; approved again by {by}, to be sent once more now."
        console.print(said, markup=False, highlight=False)
    report = run_job(path, "deliver_drafts")
    outcomes = run_outcomes(dagster_instance(loaded.root), report.run_id)
    if outcomes is None:  # the step failed before it could say: why, and where to fix it
        print_failures(console, report.failures)
        raise typer.Exit(0 if report.success else 1)
    colours = {"delivered": "green", "approved": "yellow", "pending": "yellow"}
    for outcome in outcomes:
        line = Text(as_typed(outcome.describe()), style=colours.get(outcome.status, "red"))
        console.print(line, soft_wrap=True)
    with Store.of(loaded).reader() as con:
        done = drafts.counts(con).get("delivered", 0)
    smtp = loaded.delivery.smtp
    where = f"through {smtp.server}" if smtp else f"in {loaded.resolve(loaded.delivery.outbox)}"
    console.print(f"{done} draft(s) delivered so far, {where}.", markup=False, highlight=False)
    if not report.success or any(o.status != "delivered" for o in outcomes):
        raise typer.Exit(1)


@audit_app.command("verify")
def audit_verify(config: ConfigOption = None) -> None:
    """Prove that no audit record was changed, inserted or removed (the end included), and
    that every draft's status, decider, recipient and content match the trail."""
    from hub import audit

    loaded = load_config(config)
    store = Store.of(loaded)
    with store.reader() as con:
        verdict = audit.verify(con, store.audit_anchor, loaded.resolve(loaded.delivery.outbox))
    if verdict.ok:
        console.print(f"[green]audit trail intact[/]: {verdict.records} records, chain verified.")
        return
    console.print(f"[red]audit trail broken[/]: {verdict.problem}.", highlight=False)
    raise typer.Exit(1)


@audit_app.command("anchor")
def audit_anchor(
    by: Annotated[str, typer.Option("--by", help="Who accepts the trail as it is now.")],
    reason: Annotated[str, typer.Option("--reason", help="Why (goes to the audit trail).")],
    config: ConfigOption = None,
) -> None:
    """Accept the audit trail as it is now and anchor its head again (audited); for when
    `hub audit verify` reports a missing or mangled anchor you can explain."""
    from hub import audit

    seq, digest = audit.reanchor(_store(config), by, reason)
    console.print(f"Anchored the trail at record {seq} ({digest[:12]}…), by {by}.")


@app.command()
def mcp(
    audience: Annotated[
        str | None,
        typer.Option(
            "--as",
            help="Serve as agent (the least privileged; default: `mcp.audience`) or analyst. "
            "Never steward.",
        ),
    ] = None,
    http: Annotated[
        bool, typer.Option("--http", help="Serve streamable HTTP on 127.0.0.1, not stdio.")
    ] = False,
    port: Annotated[int, typer.Option(help="Port of --http.")] = 8766,
    config: ConfigOption = None,
) -> None:
    """Serve the governed products to outside agents over the Model Context Protocol (stdio,
    or streamable HTTP on 127.0.0.1 with --http): list, describe, query, search, contracts."""
    from hub.mcp_server import serve
    from hub.mcp_tools import McpRefused, ProductReader

    try:
        reader = ProductReader(load_config(config), audience)
    except McpRefused as exc:
        raise typer.BadParameter(str(exc), param_hint="'--as'") from None
    if http:
        console.print(f"MCP server on http://127.0.0.1:{port}/mcp (Ctrl-C to stop)")
    serve(reader, http=http, port=port)


@app.command()
def ui(
    port: Annotated[int, typer.Option(help="Port of the Dagster UI.")] = 3000,
    config: ConfigOption = None,
) -> None:
    """Open the Dagster UI (`dagster dev`) on this project."""
    from hub.demo import demo_services
    from hub.runner import dagster_instance

    path = config_path(config)
    loaded = load_config(path)
    dagster_instance(loaded.root)
    workspace = Path(__file__).resolve().parent.parent / "workspace.yaml"
    command = [sys.executable, "-m", "dagster", "dev", "-p", str(port), "-h", "127.0.0.1"]
    command += ["-w", str(workspace)] if workspace.exists() else ["-m", "hub.definitions"]
    with demo_services(loaded.root):
        env = {**os.environ, "HUB_CONFIG": str(path)}
        console.print(f"Dagster UI on http://127.0.0.1:{port} (Ctrl-C to stop)")
        # dagster dev ignores an inherited SIGINT-ignore; restore the default in the child.
        child = subprocess.Popen(  # noqa: S603
            command,
            env=env,
            cwd=loaded.root,
            preexec_fn=lambda: signal.signal(signal.SIGINT, signal.SIG_DFL),  # noqa: PLW1509
        )
        signal.signal(signal.SIGTERM, lambda *_: child.terminate())
        try:
            raise typer.Exit(child.wait())
        except KeyboardInterrupt:
            child.terminate()
            raise typer.Exit(child.wait()) from None


def _print_frame(frame, whole: tuple[str, ...] = ()) -> None:  # noqa: ANN001 - DataFrame
    """A table of the rows; values are data, never rich markup. The `whole` columns (ids)
    are never wrapped or cut, whatever the terminal's width; the others fold."""
    columns = [
        Column(escape(str(c)), no_wrap=True, min_width=_widest(frame, c))
        if c in whole
        else Column(escape(str(c)), overflow="fold")
        for c in frame.columns
    ]
    table = Table(*columns)
    for row in frame.itertuples(index=False):
        table.add_row(*[Text("" if v is None else str(v)) for v in row])
    console.print(table)
    console.print(f"[dim]{len(frame)} row(s)[/]")


def _widest(frame, column: str) -> int:  # noqa: ANN001 - pandas DataFrame
    return max([len(str(column)), *(len("" if v is None else str(v)) for v in frame[column])])


def main() -> None:
    """Entry point of the `hub` command. Typer prints usage errors with the usage line (exit
    code 2); any error from a command is one line, its cause and the command, with exit code
    2, never a traceback. `HUB_DEBUG=1` re-raises it instead, for developers."""
    import warnings

    warnings.filterwarnings("ignore", message=".*is currently in beta.*")
    try:
        app()  # standalone: Typer handles --help, usage errors, typer.Exit and Ctrl-C
    except Exception as exc:  # noqa: BLE001 - the one place every error ends up
        if os.environ.get("HUB_DEBUG") == "1":
            raise
        console.print(f"error: {_explain(exc)}", style="red", markup=False, highlight=False)
        sys.exit(2)


def _explain(exc: Exception) -> str:
    """Our errors say what, where and the fix; anything else is named with its type and the
    command it escaped from. Dagster's wrappers give way to the exception they wrap."""
    import duckdb

    from hub.drafts import DraftError
    from hub.export import ExportError
    from hub.load import LoadError
    from hub.runner import SelectionError
    from hub.sandbox import SandboxQueryError, SandboxRefused

    while exc.__cause__ is not None and type(exc).__module__.startswith("dagster"):
        exc = exc.__cause__
    ours = (ConfigError, StoreError, DraftError, LoadError, SandboxRefused, SandboxQueryError)
    ours += (ExportError,)
    message = as_typed(scrub(str(exc)))
    if isinstance(exc, (*ours, SelectionError, duckdb.Error)):
        return message
    return f"{type(exc).__name__}: {message} (in `{_command_line()}`)"


def _command_line() -> str:
    """`hub` and the (sub)command names from the command line, e.g. `hub audit verify`."""
    group, names = typer.main.get_command(app), ["hub"]
    for arg in sys.argv[1:]:
        group = getattr(group, "commands", {}).get(arg)
        if group is None:
            break
        names.append(arg)
    return " ".join(names)


if __name__ == "__main__":
    main()
