"""Typed actions an agent proposes with a draft, and what each does once a human approved it.

An agent's answer may carry `actions`, each one of the kinds its hub.yaml block allows
(`agents.<name>.actions`):
- `meeting`: a kick-off meeting, sent as an iCalendar invitation (`.ics`) with the e-mail;
- `task`: a follow-up task written back to the CRM (`delivery.tasks`).

The agent proposes; it never executes. The actions are written with the draft, in
`agents.actions` (`proposed`), and are part of what the agent wrote (the `agent.draft` audit
record lists them, so one edited behind Groundwork's back is found). The approver takes the
draft with every action or without some (`hub approve ID --without A-…`): those become
`declined`, the others `approved`, and the approval's hash binds the approved ones. Delivery
executes them once each: the CRM tasks before the message is committed `sending`, in one
database transaction per draft, idempotent (the task's id is the action's id, so a retry
after a crash writes nothing twice); the invitation travels with the message. Each execution
is audited (`action.execute`, `action.failed`).
"""

from __future__ import annotations

import json
import uuid
from dataclasses import dataclass
from datetime import UTC, date, datetime, timedelta
from typing import TYPE_CHECKING, Annotated, Any, Literal

import duckdb
from pydantic import BaseModel, ConfigDict, Field, TypeAdapter, ValidationError, field_validator

from hub import audit
from hub.secrets import scrub
from hub.store import now, quote_ident, table_exists

if TYPE_CHECKING:
    from hub.config import HubConfig

DDL = """
CREATE TABLE IF NOT EXISTS agents.actions (
    action_id VARCHAR PRIMARY KEY, draft_id VARCHAR, kind VARCHAR, payload JSON,
    status VARCHAR, reason VARCHAR, executed_at TIMESTAMPTZ, result JSON);
"""
KINDS = ("meeting", "task")
TASK_COLUMNS = (
    "task_id",
    "client_id",
    "title",
    "due_date",
    "notes",
    "draft_id",
    "created_by",
    "created_at",
)
"The columns `delivery.tasks.table` must have in the CRM (Groundwork never creates it)."


class ActionError(Exception):
    """An action cannot be proposed, decided or executed; the message says why and the fix."""


class _Proposal(BaseModel):
    model_config = ConfigDict(extra="forbid")


class Meeting(_Proposal):
    kind: Literal["meeting"]
    title: str = Field(min_length=1, max_length=200)
    start: datetime
    "When it starts (ISO date-time); a time without a zone is UTC. Kept in UTC."
    duration_minutes: int = Field(default=60, ge=5, le=480)
    description: str = Field(default="", max_length=4000)

    @field_validator("start")
    @classmethod
    def _in_utc(cls, start: datetime) -> datetime:
        return start.replace(tzinfo=UTC) if start.tzinfo is None else start.astimezone(UTC)


class Task(_Proposal):
    kind: Literal["task"]
    title: str = Field(min_length=1, max_length=200)
    due: date
    notes: str = Field(default="", max_length=4000)


_PROPOSALS = TypeAdapter(list[Annotated[Meeting | Task, Field(discriminator="kind")]])


@dataclass(frozen=True)
class Action:
    action_id: str
    draft_id: str
    kind: str
    payload: dict[str, Any]
    status: str

    def summary(self) -> str:
        """One line for the approver: what it is and when."""
        p = self.payload
        if self.kind == "meeting":
            start = datetime.fromisoformat(p["start"]).astimezone(UTC)
            return f"meeting {start:%Y-%m-%d %H:%M} UTC, {p['duration_minutes']} min: {p['title']}"
        return f"CRM task due {p['due']}: {p['title']}"


def validated(raw: Any, allowed: list[str], subject_id: str, agent: str) -> list[dict[str, Any]]:
    """The actions proposed in an agent's answer (its `actions` key), as payloads;
    `ActionError` naming the subject, the action and the field when one is not valid, or
    the config key when its kind is not one the agent may propose."""
    if raw is None or raw == []:
        return []
    if not isinstance(raw, list):
        raise ActionError(
            f"subject {subject_id}: `actions` must be a list of objects, not {type(raw).__name__}"
        )
    for number, proposal in enumerate(raw, 1):
        kind = proposal.get("kind") if isinstance(proposal, dict) else None
        if kind in KINDS and kind not in allowed:
            raise ActionError(
                f"subject {subject_id}: action {number} is a {kind}, which "
                f"`agents.{agent}.actions` in hub.yaml does not allow (it allows "
                f"{', '.join(allowed) or 'none'}). Fix: add {kind} to `agents.{agent}.actions`, "
                "or instruct the agent not to propose it"
            )
    try:
        proposals = _PROPOSALS.validate_python(raw)
    except ValidationError as exc:
        raise ActionError(f"subject {subject_id}: {_said(exc.errors()[0], allowed)}") from None
    return [p.model_dump(mode="json") for p in proposals]


def _said(error: Any, allowed: list[str]) -> str:
    """One pydantic error as `action 2 (meeting), field start: <what is wrong>`."""
    loc = list(error["loc"])
    where = f"action {loc[0] + 1}" if loc and isinstance(loc[0], int) else "actions"
    if len(loc) > 1:
        where += f" ({loc[1]})"
    if len(loc) > 2:
        where += ", field " + ".".join(str(part) for part in loc[2:])
    if error["type"] in ("union_tag_invalid", "union_tag_not_found"):
        return f"{where}: its `kind` must be one of {', '.join(allowed) or 'none'}"
    return f"{where}: {error['msg']}"


# --- with the draft --------------------------------------------------------------------


def record(
    con: duckdb.DuckDBPyConnection, draft_id: str, payloads: list[dict[str, Any]]
) -> list[dict[str, Any]]:
    """Write a new draft's proposed actions (in the draft's transaction); returns them as the
    `agent.draft` audit record lists them."""
    written = []
    for payload in payloads:
        action_id = "A-" + uuid.uuid4().hex[:10]
        con.execute(
            "INSERT INTO agents.actions (action_id, draft_id, kind, payload, status) "
            "VALUES (?, ?, ?, ?, 'proposed')",
            [action_id, draft_id, payload["kind"], json.dumps(payload, sort_keys=True)],
        )
        written.append({"action_id": action_id, "kind": payload["kind"], "payload": payload})
    return sorted(written, key=lambda a: a["action_id"])  # as `as_written` lists them


def of_draft(con: duckdb.DuckDBPyConnection, draft_id: str) -> list[Action]:
    """The draft's actions ([] in a store from before actions, read by a reader)."""
    if not table_exists(con, "agents", "actions"):
        return []
    rows = con.execute(
        "SELECT action_id, draft_id, kind, payload, status FROM agents.actions "
        "WHERE draft_id = ? ORDER BY action_id",
        [draft_id],
    ).fetchall()
    return [Action(a, d, k, json.loads(p), s) for a, d, k, p, s in rows]


def as_written(con: duckdb.DuckDBPyConnection, draft_id: str) -> list[dict[str, Any]]:
    """The draft's actions as the agent wrote them (id, kind, payload), whatever their status."""
    return [
        {"action_id": a.action_id, "kind": a.kind, "payload": a.payload}
        for a in of_draft(con, draft_id)
    ]


def bound(
    con: duckdb.DuckDBPyConnection, draft_id: str, without: list[str] = (), *, decided: bool
) -> list[dict[str, Any]]:
    """What an approval binds of a draft's actions. Before the decision (`decided` False:
    the draft is pending, and approving decides every action anew), each one not in
    `without`; after it, each one not declined."""
    return [
        {"action_id": a.action_id, "kind": a.kind, "payload": a.payload}
        for a in of_draft(con, draft_id)
        if a.action_id not in without and not (decided and a.status == "declined")
    ]


def decide(
    con: duckdb.DuckDBPyConnection, draft_id: str, without: list[str], by: str
) -> dict[str, list[str]]:
    """The approver's choice: the actions in `without` declined, the others approved. One
    already done (its draft was approved, executed, then sent back to pending) stays done
    and cannot be declined."""
    found = of_draft(con, draft_id)
    proposed = {a.action_id for a in found}
    unknown = sorted(set(without) - proposed)
    if unknown:
        raise ActionError(
            f"draft {draft_id} proposes no action {', '.join(unknown)}; its actions are "
            f"{', '.join(sorted(proposed)) or 'none'} (see `hub draft {draft_id}`)."
        )
    done = sorted(a.action_id for a in found if a.status == "done")
    if set(done) & set(without):
        raise ActionError(
            f"action(s) {', '.join(sorted(set(done) & set(without)))} of draft {draft_id} "
            "were already executed; they cannot be declined now."
        )
    for action_id in sorted(proposed - set(done)):
        status = "declined" if action_id in without else "approved"
        con.execute(
            "UPDATE agents.actions SET status = ?, reason = ? WHERE action_id = ?",
            [status, f"declined by {by}" if status == "declined" else None, action_id],
        )
    approved = sorted(proposed - set(without))
    return {"approved": approved, "declined": sorted(set(without))}


# --- delivery --------------------------------------------------------------------------


def approved_actions(con: duckdb.DuckDBPyConnection, draft_id: str) -> list[Action]:
    """The draft's actions a human approved that have not been executed yet."""
    return [a for a in of_draft(con, draft_id) if a.status == "approved"]


def invitation(action: Action, *, organizer: str, attendee: str) -> bytes:
    """An iCalendar REQUEST for an approved meeting; its UID comes from the action's id, so
    sending it again updates the event instead of adding a second one."""
    from icalendar import Calendar, Event, vCalAddress

    start = datetime.fromisoformat(action.payload["start"])
    start = start if start.tzinfo else start.replace(tzinfo=UTC)
    event = Event()
    event.add("uid", f"{action.action_id}@groundwork")
    event.add("dtstamp", datetime.now(UTC))
    event.add("dtstart", start.astimezone(UTC))
    event.add(
        "dtend", start.astimezone(UTC) + timedelta(minutes=action.payload["duration_minutes"])
    )
    event.add("summary", action.payload["title"])
    event.add("description", action.payload.get("description", ""))
    event.add("organizer", vCalAddress(f"mailto:{organizer}"))
    guest = vCalAddress(f"mailto:{attendee}")
    guest.params["RSVP"] = "TRUE"
    event.add("attendee", guest)
    calendar = Calendar()
    calendar.add("prodid", "-//Groundwork//onboarding//EN")
    calendar.add("version", "2.0")
    calendar.add("method", "REQUEST")
    calendar.add_component(event)
    return calendar.to_ical()


def write_tasks(
    config: HubConfig, con: duckdb.DuckDBPyConnection, subject_id: str, tasks: list[Action]
) -> list[str]:
    """Write a draft's approved tasks into the CRM (`delivery.tasks`) in one transaction of
    that database; returns the ids written. A task already there (an earlier attempt that
    committed in the CRM and died before Groundwork recorded it) is not written again."""
    if not tasks:
        return []
    settings = config.delivery.tasks
    if settings is None:
        raise ActionError(
            "an approved task has nowhere to go: hub.yaml has no `delivery.tasks`. Fix: set "
            "`delivery.tasks: {source: <sql source>, table: tasks}`, or approve without it"
        )
    client_id = _client_id(con, config, subject_id, settings.source, settings.client_table)
    import sqlalchemy as sa

    source = config.sources[settings.source]
    where = f"source {settings.source} ({source.location(config.root)}), table {settings.table}"
    engine = sa.create_engine(source.engine_url(config.root))
    try:
        table = sa.Table(settings.table, sa.MetaData(), autoload_with=engine)
        missing = [c for c in TASK_COLUMNS if c not in table.c]
        if missing:
            raise ActionError(
                f"{where} lacks the column(s) {', '.join(missing)}. Fix: create it with "
                f"{', '.join(TASK_COLUMNS)}"
            )
        with engine.begin() as crm:  # one transaction: all of the draft's tasks, or none
            present = {
                row[0]
                for row in crm.execute(
                    sa.select(table.c.task_id).where(
                        table.c.task_id.in_([t.action_id for t in tasks])
                    )
                )
            }
            # the same task for the client written for an earlier draft of it (that draft's
            # message was then refused, and the client drafted for again): not twice
            present |= {
                task.action_id
                for task in tasks
                for _ in crm.execute(
                    sa.select(table.c.task_id).where(
                        table.c.client_id == client_id,
                        table.c.title == task.payload["title"],
                        table.c.due_date == date.fromisoformat(task.payload["due"]),
                        table.c.created_by == "groundwork",
                    )
                )
            }
            rows = [_task_row(t, client_id) for t in tasks if t.action_id not in present]
            if rows:
                crm.execute(table.insert(), rows)
        return [row["task_id"] for row in rows]
    except sa.exc.NoSuchTableError:
        raise ActionError(
            f"{where}: no such table in the CRM. Fix: create it with the columns "
            f"{', '.join(TASK_COLUMNS)}, then deliver again"
        ) from None
    except sa.exc.SQLAlchemyError as exc:
        raise ActionError(
            f"{where}: the write-back failed and wrote nothing ({scrub(str(exc.orig or exc))}). "
            "Fix the CRM, then deliver again"
        ) from None
    finally:
        engine.dispose()


def _task_row(task: Action, client_id: str) -> dict[str, Any]:
    return {
        "task_id": task.action_id,
        "client_id": client_id,
        "title": task.payload["title"],
        "due_date": date.fromisoformat(task.payload["due"]),
        "notes": task.payload.get("notes", ""),
        "draft_id": task.draft_id,
        "created_by": "groundwork",
        "created_at": datetime.now(UTC).replace(tzinfo=None),
    }


def _client_id(
    con: duckdb.DuckDBPyConnection,
    config: HubConfig,
    subject_id: str,
    source: str,
    client_table: str | None,
) -> str:
    """The subject's id in the CRM: its crosswalk row from the CRM's clients table (by
    default the source's first table an entity maps)."""
    for entity, spec in config.entities.items():
        mapped = [s.table for s in spec.sources if s.table.startswith(f"{source}__")]
        table = client_table or (mapped[0] if mapped else None)
        if table is None or table not in [s.table for s in spec.sources]:
            continue
        row = con.execute(
            f"SELECT min(source_id) FROM unified.{quote_ident(entity + '_xref')} "
            f"WHERE source = ? AND {quote_ident(entity + '_id')} = ?",
            [table, subject_id],
        ).fetchone()
        if row and row[0] is not None:
            return row[0]
    raise ActionError(
        f"subject {subject_id} has no row of the {source} clients table in the crosswalk, so "
        "its CRM client id is unknown. Fix: check `delivery.tasks.client_table`"
    )


def mark_done(con: duckdb.DuckDBPyConnection, action: Action, details: dict[str, Any]) -> None:
    con.execute(
        "UPDATE agents.actions SET status = 'done', executed_at = ?, result = ? "
        "WHERE action_id = ?",
        [now(), json.dumps(details, default=str), action.action_id],
    )
    audit.append(
        con,
        actor="delivery",
        action="action.execute",
        target=action.action_id,
        details={"draft_id": action.draft_id, "kind": action.kind, **details},
    )


def mark_failed(con: duckdb.DuckDBPyConnection, action: Action, why: str) -> None:
    con.execute(
        "UPDATE agents.actions SET status = 'failed', reason = ? WHERE action_id = ?",
        [why, action.action_id],
    )
    audit.append(
        con,
        actor="delivery",
        action="action.failed",
        target=action.action_id,
        details={"draft_id": action.draft_id, "kind": action.kind, "reason": why},
    )
