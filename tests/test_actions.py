"""Typed actions: an agent proposes a kick-off meeting and a CRM task, a human approves the
draft with or without each, the approval binds the approved ones, and their executors (the
`.ics` invitation, the CRM write-back) work on their own, against SQLite, PostgreSQL and
MariaDB."""

from __future__ import annotations

import json
import re
import uuid
from collections.abc import Iterator
from datetime import UTC, date, datetime, timedelta
from pathlib import Path
from typing import Any

import duckdb
import pytest
import sqlalchemy as sa
import yaml
from icalendar import Calendar
from typer.testing import CliRunner

from hub import actions, audit, drafts
from hub.actions import Action, ActionError
from hub.agents.inputs import SETTINGS, agent_parts, sha256
from hub.agents.offline import compose as plain_compose
from hub.agents.onboarding import compose as onboarding_compose
from hub.agents.runtime import GUARDRAILS, AgentOutputError, guardrails, run_agent
from hub.cli import app
from hub.config import AgentConfig, load_config
from hub.delivery import deliver_approved
from tests.conftest import DemoProject, require_service, steward
from tests.test_agent_llm import ChatStub, llm_config, subject_of, subject_sql, tool_results
from tests.test_approval import tamper
from tests.test_sql_sources import SERVERS

MEETING = {
    "kind": "meeting",
    "title": "Kick-off: Harbor Health",
    "start": "2026-03-02T11:00:00+01:00",
    "duration_minutes": 45,
    "description": "Goals, integrations, owners.",
}
TASK = {"kind": "task", "title": "Send the minutes", "due": "2026-03-04", "notes": "to Ada"}
NOTE = """# Onboarding notes: Harbor Health

## Goals

- Go live in March

## Kick-off

Kick-off proposed for 2026-03-02 with Ada Byron and the project team.
"""


def valid(*proposals: dict[str, Any], allowed: tuple[str, ...] = actions.KINDS) -> list[dict]:
    return actions.validated(list(proposals), list(allowed), "CU-1", "onboarding")


# --- what an agent may propose ----------------------------------------------------------


def test_proposals_are_kept_as_payloads_with_the_start_in_utc() -> None:
    meeting, task = valid(MEETING, TASK)

    assert meeting == {**MEETING, "start": "2026-03-02T10:00:00Z"}
    assert task == TASK
    assert valid({**MEETING, "start": "2026-03-02T10:00:00"})[0]["start"].endswith("10:00:00Z")
    assert actions.validated(None, [], "CU-1", "onboarding") == []


@pytest.mark.parametrize(
    ("proposals", "said"),
    [
        ([{**MEETING, "start": "next Tuesday"}], "action 1 (meeting), field start: "),
        ([TASK, {**TASK, "title": ""}], "action 2 (task), field title: "),
        ([{k: v for k, v in TASK.items() if k != "due"}], "action 1 (task), field due: "),
        ([{**TASK, "assignee": "bob"}], "action 1 (task), field assignee: Extra inputs"),
        ([{**TASK, "kind": "payment"}], "action 1: its `kind` must be one of meeting, task"),
        ([{"title": "no kind"}], "action 1: its `kind` must be one of meeting, task"),
        ([["not", "an", "object"]], "action 1: "),
        (TASK, "`actions` must be a list of objects, not dict"),
    ],
)
def test_an_invalid_action_is_refused_naming_the_subject_the_action_and_the_field(
    proposals: Any, said: str
) -> None:
    with pytest.raises(ActionError) as error:
        actions.validated(proposals, ["meeting", "task"], "CU-1", "onboarding")

    assert str(error.value).startswith("subject CU-1: ")
    assert said in str(error.value)


def test_a_kind_the_agent_may_not_propose_is_refused_naming_the_config_key() -> None:
    with pytest.raises(ActionError, match=r"action 2 is a task.*`agents.onboarding.actions`"):
        valid(MEETING, TASK, allowed=("meeting",))
    with pytest.raises(ActionError, match=r"it allows none\). Fix: add meeting to `agents"):
        valid(MEETING, allowed=())


def test_the_guardrails_and_fingerprint_of_an_agent_without_actions_are_unchanged() -> None:
    block = {"subjects": "clients", "subject_key": "id", "subject_name": "name"}
    plain = AgentConfig.model_validate({**block, "instructions": "Write."})
    acting = AgentConfig.model_validate({**block, "instructions": "Write.", "actions": ["task"]})

    # the system prompt and settings of an agent proposing nothing hash as before actions
    # and signups existed, so its drafts are not superseded by these features
    assert guardrails(plain) == GUARDRAILS
    before = plain.model_dump(
        mode="json", exclude={"description", "instructions", "llm", "signups"}
    )
    del before["actions"]
    assert agent_parts("a", plain, guardrails(plain))[SETTINGS] == sha256(before)
    assert guardrails(acting).startswith(GUARDRAILS)
    assert "Allowed kinds: task." in guardrails(acting)
    assert agent_parts("a", acting, GUARDRAILS)[SETTINGS] != sha256(before)


def test_offline_onboarding_proposes_the_kickoff_and_a_task_two_days_later() -> None:
    draft = onboarding_compose("Harbor Health", [{"doc_id": "h.md", "quoted_text": NOTE}], {})
    meeting, task = valid(*draft["actions"])

    assert meeting["start"] == "2026-03-02T10:00:00Z" and meeting["duration_minutes"] == 60
    assert "Ada Byron" in meeting["description"]
    assert task["due"] == "2026-03-04"
    # no kick-off date in the note: nothing to propose; the generic offline draft never does
    undated = NOTE.replace("for 2026-03-02 ", "")
    assert "actions" not in onboarding_compose("H", [{"quoted_text": undated}], {})
    assert "actions" not in plain_compose("H", [{"doc_id": "h.md", "quoted_text": NOTE}], {})


# --- the invitation ---------------------------------------------------------------------


def approved(payload: dict[str, Any], action_id: str = "A-0123456789") -> Action:
    [kept] = valid(payload)
    return Action(action_id, "D-abcdef0123", payload["kind"], kept, "approved")


def test_the_invitation_is_a_utc_request_with_a_uid_stable_across_sends() -> None:
    meeting = approved(MEETING)

    first = actions.invitation(meeting, organizer="team@hub.test", attendee="ada@harbor.test")
    again = actions.invitation(meeting, organizer="team@hub.test", attendee="ada@harbor.test")
    calendar = Calendar.from_ical(first)
    [event] = calendar.walk("VEVENT")

    assert str(calendar["METHOD"]) == "REQUEST"
    uid = str(event["UID"])
    assert "A-0123456789" in uid
    assert uid == str(Calendar.from_ical(again).walk("VEVENT")[0]["UID"])
    assert event.decoded("DTSTART") == datetime(2026, 3, 2, 10, 0, tzinfo=UTC)
    assert event.decoded("DTEND") == datetime(2026, 3, 2, 10, 45, tzinfo=UTC)
    assert b"DTSTART:20260302T100000Z" in first
    assert event.decoded("DTSTAMP").tzinfo is not None
    assert str(event["SUMMARY"]) == "Kick-off: Harbor Health"
    assert str(event["DESCRIPTION"]) == "Goals, integrations, owners."
    assert str(event["ORGANIZER"]) == "mailto:team@hub.test"
    assert str(event["ATTENDEE"]) == "mailto:ada@harbor.test"


# --- the CRM write-back -----------------------------------------------------------------

PASSWORD_VARIABLE = "HUB_TEST_CRM_PASSWORD"
PASSWORD = "Tr0ub4dor-crm-secret"


class Crm:
    """A CRM database with a fresh tasks table, a hub.yaml writing to it, and a store whose
    crosswalk says customer CU-1 is CRM client C001."""

    def __init__(self, root: Path, url: str, table: str) -> None:
        self.url, self.table = url, table
        self.engine = sa.create_engine(url.replace("sqlite:///", f"sqlite:///{root}/"))
        self.config_path = root / "hub.yaml"
        self.write_config(url)
        self.store = duckdb.connect()
        self.store.execute(
            "CREATE SCHEMA unified; CREATE TABLE unified.customer_xref (customer_id VARCHAR, "
            "source VARCHAR, source_id VARCHAR, matched_on VARCHAR);"
            "INSERT INTO unified.customer_xref VALUES ('CU-1', 'crm__clients', 'C001', 'email'),"
            " ('CU-1', 'billing__accounts', 'B-9', 'email')"
        )

    def write_config(self, url: str) -> None:
        document = {
            "sources": {"crm": {"kind": "sql", "url": url, "tables": {"clients": {}}}},
            "entities": {
                "customer": {
                    "fields": {"email": {"standardise": ["email"]}},
                    "match_on": ["email"],
                    "sources": [{"table": "crm__clients", "id": "id", "fields": {"email": "e"}}],
                }
            },
            "delivery": {"tasks": {"source": "crm", "table": self.table}},
        }
        self.config_path.write_text(yaml.safe_dump(document, sort_keys=False))

    @property
    def config(self) -> Any:
        return load_config(self.config_path)

    def create_table(self) -> sa.Table:
        table = sa.Table(
            self.table,
            sa.MetaData(),
            sa.Column("task_id", sa.String(20), primary_key=True),
            sa.Column("client_id", sa.String(20), nullable=False),
            sa.Column("title", sa.String(200), nullable=False),
            sa.Column("due_date", sa.Date),
            sa.Column("notes", sa.Text),
            sa.Column("draft_id", sa.String(20)),
            sa.Column("created_by", sa.String(50)),
            sa.Column("created_at", sa.DateTime),
            sa.UniqueConstraint("client_id", "title"),  # lets a test make an insert fail
        )
        table.metadata.create_all(self.engine)
        return table

    def rows(self) -> list[tuple]:
        """The tasks table, dates as ISO text (SQLite hands them back as text)."""
        query = sa.text(
            "SELECT task_id, client_id, title, due_date, notes, draft_id, created_by "
            f"FROM {self.table} ORDER BY task_id"
        )
        with self.engine.connect() as conn:
            rows = conn.execute(query).all()
        return [tuple(str(value) for value in row) for row in rows]

    def write(self, *tasks: Action) -> list[str]:
        return actions.write_tasks(self.config, self.store, "CU-1", list(tasks))


@pytest.fixture(params=list(SERVERS))
def crm(
    request: pytest.FixtureRequest, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> Iterator[Crm]:
    kind = request.param
    service, port, url = SERVERS[kind]
    if service:
        require_service(service, "127.0.0.1", port)
    if kind == "postgresql":  # trust auth takes any password: the one no message may show
        monkeypatch.setenv(PASSWORD_VARIABLE, PASSWORD)
        url = url.replace("postgres@", f"postgres:${{{PASSWORD_VARIABLE}}}@")
    project = Crm(tmp_path, url, f"tasks_{uuid.uuid4().hex[:8]}")
    try:
        yield project
    finally:
        with project.engine.begin() as conn:
            conn.execute(sa.text(f"DROP TABLE IF EXISTS {project.table}"))
        project.engine.dispose()
        project.store.close()


def task(title: str, action_id: str, due: str = "2026-03-04") -> Action:
    return approved({**TASK, "title": title, "due": due}, action_id)


def test_a_drafts_tasks_are_written_once_even_when_retried(crm: Crm) -> None:
    crm.create_table()
    first, second = task("Send the minutes", "A-000000000a"), task("Call", "A-000000000b")

    assert crm.write(first, second) == ["A-000000000a", "A-000000000b"]
    # a retry (the CRM committed, then Groundwork died before recording it) adds nothing
    assert crm.write(first, second) == []

    assert crm.rows() == [
        (
            "A-000000000a",
            "C001",
            "Send the minutes",
            "2026-03-04",
            "to Ada",
            "D-abcdef0123",
            "groundwork",
        ),
        ("A-000000000b", "C001", "Call", "2026-03-04", "to Ada", "D-abcdef0123", "groundwork"),
    ]


def test_the_same_task_for_a_client_drafted_for_again_is_not_written_twice(crm: Crm) -> None:
    crm.create_table()
    assert crm.write(task("Send the minutes", "A-000000000a")) == ["A-000000000a"]
    # that draft's message was then refused for good and the client drafted for again: the
    # new draft proposes the same task under a new action id
    assert crm.write(task("Send the minutes", "A-000000000c")) == []
    assert [row[0] for row in crm.rows()] == ["A-000000000a"]


def test_a_failing_insert_midway_leaves_no_task(crm: Crm) -> None:
    crm.create_table()
    fine, clash = task("Send the minutes", "A-000000000a"), task("Send the minutes", "A-0000000b")

    with pytest.raises(ActionError) as error:
        crm.write(fine, clash)

    assert crm.rows() == []  # one transaction: the first task went with the second
    message = str(error.value)
    assert "source crm" in message and f"table {crm.table}" in message
    assert "wrote nothing" in message and "Fix the CRM, then deliver again" in message
    assert PASSWORD not in message


def test_a_missing_tasks_table_says_what_to_create(crm: Crm) -> None:
    with pytest.raises(ActionError) as error:
        crm.write(task("Send the minutes", "A-000000000a"))

    message = str(error.value)
    assert "source crm" in message and f"table {crm.table}: no such table" in message
    assert "task_id, client_id, title, due_date, notes, draft_id, created_by, created_at" in message
    assert PASSWORD not in message


def test_a_tasks_table_without_the_columns_is_refused_before_writing(tmp_path: Path) -> None:
    crm = Crm(tmp_path, "sqlite:///crm.sqlite", "tasks")
    with crm.engine.begin() as conn:
        conn.execute(sa.text("CREATE TABLE tasks (task_id TEXT PRIMARY KEY, title TEXT)"))

    with pytest.raises(ActionError, match=r"lacks the column\(s\) client_id, due_date"):
        crm.write(task("Send the minutes", "A-000000000a"))


def test_nowhere_to_write_or_no_client_in_the_crm_is_a_clear_error(tmp_path: Path) -> None:
    crm = Crm(tmp_path, "sqlite:///crm.sqlite", "tasks")
    crm.create_table()
    orphan = task("Send the minutes", "A-000000000a")

    with pytest.raises(ActionError, match="has no row of the crm clients table"):
        actions.write_tasks(crm.config, crm.store, "CU-2", [orphan])
    unset = crm.config.model_copy(
        update={"delivery": crm.config.delivery.model_copy(update={"tasks": None})}
    )
    with pytest.raises(ActionError, match="hub.yaml has no `delivery.tasks`"):
        actions.write_tasks(unset, crm.store, "CU-1", [orphan])
    assert actions.write_tasks(unset, crm.store, "CU-1", []) == []
    assert crm.rows() == []


def test_an_unreachable_crm_is_named_without_its_password(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv(PASSWORD_VARIABLE, PASSWORD)
    url = f"postgresql://postgres:${{{PASSWORD_VARIABLE}}}@127.0.0.1:9/test?connect_timeout=2"
    crm = Crm(tmp_path, "sqlite:///crm.sqlite", "tasks")
    crm.write_config(url)

    with pytest.raises(ActionError) as error:
        crm.write(task("Send the minutes", "A-000000000a"))

    assert "source crm (postgresql://postgres:***@127.0.0.1:9/test" in str(error.value)
    assert PASSWORD not in str(error.value)


def test_done_and_failed_are_recorded_and_audited(tmp_path: Path) -> None:
    from hub.store import Store

    store = Store(tmp_path / "hub.duckdb", lock_timeout=10)
    with store.transaction() as con:
        written = actions.record(con, "D-abcdef0123", [MEETING, TASK])
        assert actions.approved_actions(con, "D-abcdef0123") == []  # proposed, not approved
        con.execute("UPDATE agents.actions SET status = 'approved'")
        found = actions.approved_actions(con, "D-abcdef0123")
        [meeting] = [a for a in found if a.kind == "meeting"]
        [todo] = [a for a in found if a.kind == "task"]
        assert sorted(a.action_id for a in found) == sorted(a["action_id"] for a in written)
        actions.mark_done(con, meeting, {"sent_with": "D-abcdef0123"})
        actions.mark_failed(con, todo, "the CRM refused it")
        assert actions.approved_actions(con, "D-abcdef0123") == []
        rows = con.execute(
            "SELECT status, reason, executed_at IS NOT NULL, result FROM agents.actions "
            "ORDER BY kind"
        ).fetchall()
        trail = con.execute(
            "SELECT action, target, details FROM meta.audit_log ORDER BY seq"
        ).fetchall()

    assert rows[0][:3] == ("done", None, True) and json.loads(rows[0][3]) == {
        "sent_with": "D-abcdef0123"
    }
    assert rows[1][:3] == ("failed", "the CRM refused it", False)
    assert [(a, t) for a, t, _ in trail] == [
        ("action.execute", meeting.action_id),
        ("action.failed", todo.action_id),
    ]
    assert json.loads(trail[1][2])["reason"] == "the CRM refused it"


# --- with the demo: proposed, shown, decided, bound ---------------------------------------


def kickoffs() -> dict[str, date]:
    """customer id -> the kick-off date its onboarding note proposes."""
    notes = steward("SELECT customer_id, body FROM serve.onboarding_docs")
    return {
        c: date.fromisoformat(re.search(r"Kick-off proposed for (\S+) ", b).group(1))
        for c, b in notes.values
    }


def proposed_actions() -> dict[str, list[dict[str, Any]]]:
    """pending draft id -> its actions (id, kind, payload, status), oldest draft first."""
    rows = steward(
        "SELECT d.draft_id, d.subject_id, a.action_id, a.kind, a.payload, a.status "
        "FROM agents.drafts d JOIN agents.actions a USING (draft_id) "
        "WHERE d.status = 'pending' ORDER BY d.created_at, d.draft_id, a.kind"
    )
    found: dict[str, list[dict[str, Any]]] = {}
    for draft_id, subject_id, action_id, kind, payload, status in rows.values:
        found.setdefault(draft_id, []).append(
            {
                "subject": subject_id,
                "action_id": action_id,
                "kind": kind,
                "payload": json.loads(payload),
                "status": status,
            }
        )
    return found


def test_offline_drafts_propose_a_meeting_and_a_task_at_the_notes_kickoff(
    built_demo: DemoProject,
) -> None:
    dates, found = kickoffs(), proposed_actions()

    assert len(found) == 12
    for draft_id, (meeting, todo) in found.items():
        kickoff = dates[meeting["subject"]]
        assert (meeting["kind"], todo["kind"]) == ("meeting", "task")
        assert meeting["payload"]["start"] == f"{kickoff.isoformat()}T10:00:00Z"
        assert meeting["payload"]["duration_minutes"] == 60
        assert todo["payload"]["due"] == (kickoff + timedelta(days=2)).isoformat()
        assert meeting["status"] == todo["status"] == "proposed"
        with built_demo.store.reader() as con:
            written = drafts.creation_record(con, draft_id)["actions"]
        ids = sorted([meeting["action_id"], todo["action_id"]])
        assert [a["action_id"] for a in written] == ids


def cli(project: DemoProject, *args: str) -> Any:
    return CliRunner().invoke(app, [*args, "--config", str(project.config_path)])


def verdict(project: DemoProject) -> audit.Verdict:
    with project.store.reader() as con:
        return audit.verify(con, project.store.audit_anchor, project.config.resolve("outbox"))


def test_the_approver_sees_the_actions_and_approves_without_one(built_demo: DemoProject) -> None:
    draft_id, (meeting, todo) = next(iter(proposed_actions().items()))

    shown = cli(built_demo, "draft", draft_id)
    unknown = cli(built_demo, "approve", draft_id, "--by", "maria", "--without", "A-0000000000")
    approved_ = cli(
        built_demo, "approve", draft_id, "--by", "maria", "--without", todo["action_id"]
    )

    assert shown.exit_code == 0, shown.output
    start = meeting["payload"]["start"].replace("T", " ").replace(":00Z", " UTC")
    assert f"{meeting['action_id']}  [proposed] meeting {start}, 60 min: Kick-off:" in shown.output
    assert f"{todo['action_id']}  [proposed] CRM task due {todo['payload']['due']}:" in shown.output
    assert unknown.exit_code != 0 and "proposes no action A-0000000000" in str(unknown.exception)
    assert approved_.exit_code == 0, approved_.output
    assert f"without {todo['action_id']}" in approved_.output
    statuses = dict(
        steward(
            "SELECT action_id, status FROM agents.actions WHERE draft_id = ?", [draft_id]
        ).values.tolist()
    )
    assert statuses == {meeting["action_id"]: "approved", todo["action_id"]: "declined"}
    details = json.loads(
        steward(
            "SELECT details FROM meta.audit_log WHERE action = 'draft.approve' AND target = ?",
            [draft_id],
        ).details[0]
    )
    assert details["approved"] == [meeting["action_id"]]
    assert details["declined"] == [todo["action_id"]]
    with built_demo.store.reader() as con:
        draft = drafts.get(con, draft_id)
        assert drafts.approval_digest(con, draft, draft["recipient"]) == draft["approved_sha256"]
        assert [a.action_id for a in actions.approved_actions(con, draft_id)] == [
            meeting["action_id"]
        ]
    assert verdict(built_demo).ok


def test_an_approved_action_edited_afterwards_stops_delivery_and_verify(
    built_demo: DemoProject,
) -> None:
    draft_id, (meeting, _) = next(iter(proposed_actions().items()))
    drafts.approve(built_demo.store, built_demo.config, draft_id, by="maria")
    moved = {**meeting["payload"], "start": "2030-01-01T03:00:00Z"}
    tamper(
        built_demo,
        "UPDATE agents.actions SET payload = ? WHERE action_id = ?",
        [json.dumps(moved), meeting["action_id"]],
    )

    with built_demo.store.reader() as con:
        draft = drafts.get(con, draft_id)
        assert drafts.approval_digest(con, draft, draft["recipient"]) != draft["approved_sha256"]
    found = verdict(built_demo)
    outcomes = {o.draft_id: o for o in deliver_approved(built_demo.config, built_demo.store)}

    assert not found.ok and f"draft {draft_id}" in found.problem
    assert "proposed actions differ from the ones the agent wrote" in found.problem
    assert outcomes[draft_id].status == "pending"  # refused: to be approved again


def test_an_action_edited_before_approval_is_refused(built_demo: DemoProject) -> None:
    draft_id, (_, todo) = next(iter(proposed_actions().items()))
    tamper(
        built_demo,
        "UPDATE agents.actions SET payload = ? WHERE action_id = ?",
        [json.dumps({**todo["payload"], "title": "Wire 5000 EUR"}), todo["action_id"]],
    )

    with pytest.raises(drafts.DraftError, match="proposed actions differ from the ones the agent"):
        drafts.approve(built_demo.store, built_demo.config, draft_id, by="maria")
    assert f"draft {draft_id}" in verdict(built_demo).problem


def test_approving_again_after_delivery_refused_decides_every_action_anew(
    built_demo: DemoProject,
) -> None:
    draft_id, (meeting, todo) = next(iter(proposed_actions().items()))
    store, config = built_demo.store, built_demo.config
    drafts.approve(store, config, draft_id, by="maria", without=[todo["action_id"]])
    with store.transaction() as con:  # delivery found it changed: back to pending
        drafts.void_approval(con, draft_id, "the recipient changed", None)

    shown = cli(built_demo, "draft", draft_id)  # what `hub approve` hashes as seen
    result = cli(built_demo, "approve", draft_id, "--by", "maria")

    assert result.exit_code == 0, result.output + shown.output
    statuses = steward("SELECT status FROM agents.actions WHERE draft_id = ?", [draft_id])
    assert sorted(statuses.status) == ["approved", "approved"]


# --- with a model: what it is told and what it may answer ---------------------------------


def proposing(*proposals: dict[str, Any]) -> Any:
    """A chat stub script: search and query, then a draft proposing these actions."""

    def script(body: dict[str, Any]) -> dict[str, Any]:
        subject = subject_of(body)
        if not tool_results(body):
            return {
                "tool_calls": [
                    ("search_documents", {"query": subject["name"]}),
                    ("sql", {"query": subject_sql(subject)}),
                ]
            }
        draft = {"title": "Welcome", "body": "See you at the kick-off.", "actions": proposals}
        return {"content": json.dumps(draft)}

    return script


def one_subject() -> str:
    return steward("SELECT min(customer_id) AS c FROM serve.clients").c[0]


def system_prompt(stub: ChatStub) -> str:
    from tests.test_agent_llm import text_of

    return text_of(next(m for m in stub.requests[0]["messages"] if m["role"] == "system"))


def test_a_model_is_told_its_actions_and_its_proposals_reach_the_draft(
    built_demo: DemoProject, monkeypatch: pytest.MonkeyPatch
) -> None:
    subject = one_subject()
    with ChatStub(proposing(MEETING, TASK)) as stub:
        config = llm_config(built_demo, stub, monkeypatch)
        [draft] = run_agent(config, "onboarding", only={subject})

    assert "Allowed kinds: meeting, task." in system_prompt(stub)
    assert [a["kind"] for a in draft.actions] == ["meeting", "task"]
    assert draft.actions[0]["start"] == "2026-03-02T10:00:00Z"


def test_a_model_proposing_an_invalid_action_is_refused(
    built_demo: DemoProject, monkeypatch: pytest.MonkeyPatch
) -> None:
    subject = one_subject()
    with ChatStub(proposing(TASK, {**MEETING, "duration_minutes": "a while"})) as stub:
        config = llm_config(built_demo, stub, monkeypatch)
        with pytest.raises(AgentOutputError) as error:
            run_agent(config, "onboarding", only={subject})

    assert f"subject {subject}: action 2 (meeting), field duration_minutes" in str(error.value)
    assert error.value.tool_calls  # what it called before, for the trail


def test_an_agent_without_actions_is_told_nothing_and_refused_when_it_proposes(
    built_demo: DemoProject, monkeypatch: pytest.MonkeyPatch
) -> None:
    text = built_demo.config_path.read_text()
    built_demo.config_path.write_text(re.sub(r"\n\s+actions: \[meeting, task\].*", "", text))
    subject = one_subject()
    with ChatStub(proposing(TASK)) as stub:
        config = llm_config(built_demo, stub, monkeypatch)
        assert config.agents["onboarding"].actions == []
        with pytest.raises(AgentOutputError, match=r"`agents.onboarding.actions`"):
            run_agent(config, "onboarding", only={subject})

    prompt = system_prompt(stub)
    assert GUARDRAILS in prompt and "propose actions" not in prompt
