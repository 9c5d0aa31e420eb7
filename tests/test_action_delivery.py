"""Approved actions run once each, with their draft: the CRM task written back before the
message is committed `sending`, the invitation sent with it; a CRM that cannot take the task
holds the e-mail (`on_action_failure: hold`) or lets it go alone (`send`)."""

from __future__ import annotations

import email
import sqlite3
from email import policy

from hub import audit, drafts
from hub.config import load_config
from hub.delivery import deliver_approved
from hub.store import Store
from tests.conftest import DemoProject, steward

TASKS_DDL = (
    "CREATE TABLE tasks (task_id TEXT PRIMARY KEY, client_id TEXT, title TEXT, due_date DATE,"
    " notes TEXT, draft_id TEXT, created_by TEXT, created_at TIMESTAMP)"
)


def crm(project: DemoProject, sql: str) -> list[tuple]:
    with sqlite3.connect(project.root / "demo" / "crm.sqlite") as con:
        rows = con.execute(sql).fetchall()
    con.close()
    return rows


def approve_first(project: DemoProject, without: tuple[str, ...] = ()) -> tuple[str, dict]:
    """The first pending draft, approved; returns it and its actions by kind."""
    draft_id = steward(
        "SELECT draft_id FROM agents.drafts WHERE status = 'pending' ORDER BY draft_id LIMIT 1"
    ).draft_id[0]
    found = steward("SELECT action_id, kind FROM agents.actions WHERE draft_id = ?", [draft_id])
    by_kind = dict(zip(found.kind, found.action_id, strict=True))
    left_out = [by_kind[kind] for kind in without]
    drafts.approve(project.store, project.config, draft_id, by="maria", without=left_out)
    return draft_id, by_kind


def deliver(project: DemoProject) -> dict:
    config = load_config(project.config_path)
    return {o.draft_id: o for o in deliver_approved(config, Store.of(config))}


def sent(project: DemoProject, draft_id: str) -> email.message.EmailMessage:
    path = project.root / "outbox" / f"{draft_id}.eml"
    return email.message_from_bytes(path.read_bytes(), policy=policy.default)


def action_statuses(draft_id: str) -> dict[str, str]:
    rows = steward("SELECT kind, status FROM agents.actions WHERE draft_id = ?", [draft_id])
    return dict(zip(rows.kind, rows.status, strict=True))


def verified(project: DemoProject) -> bool:
    with project.store.reader() as con:
        return audit.verify(con, project.store.audit_anchor, project.root / "outbox").ok


def test_approved_drafts_go_out_with_their_invitation_and_crm_task_once(
    built_demo: DemoProject,
) -> None:
    draft_id, actions = approve_first(built_demo)
    alone, _ = approve_first(built_demo, without=("meeting",))

    outcomes = deliver(built_demo)
    assert {outcomes[d].status for d in (draft_id, alone)} == {"delivered"}
    assert deliver(built_demo) == {}  # nothing is done twice

    [calendar] = list(sent(built_demo, draft_id).iter_attachments())
    assert calendar.get_content_type() == "text/calendar"
    assert f"UID:{actions['meeting']}@groundwork" in calendar.get_content()
    assert list(sent(built_demo, alone).iter_attachments()) == []  # its meeting was declined
    subject = steward("SELECT subject_id FROM agents.drafts WHERE draft_id = ?", [draft_id])
    client = steward(
        "SELECT source_id FROM unified.customer_xref WHERE source = 'crm__clients' "
        "AND customer_id = ?",
        [subject.subject_id[0]],
    ).source_id[0]
    tasks = crm(built_demo, "SELECT task_id, client_id, draft_id FROM tasks ORDER BY draft_id")
    assert (actions["task"], client, draft_id) in tasks and len(tasks) == 2
    assert action_statuses(draft_id) == {"meeting": "done", "task": "done"}
    assert action_statuses(alone) == {"meeting": "declined", "task": "done"}
    executed = steward("SELECT target FROM meta.audit_log WHERE action = 'action.execute'")
    assert set(actions.values()) <= set(executed.target) and len(executed) == 3
    assert verified(built_demo)


def test_a_crm_that_cannot_take_the_task_holds_the_email_or_lets_it_go_alone(
    built_demo: DemoProject,
) -> None:
    crm(built_demo, "DROP TABLE tasks")
    draft_id, _ = approve_first(built_demo)

    held = deliver(built_demo)[draft_id]  # on_action_failure: hold, the default

    assert held.status == "approved" and "no such table" in held.detail
    assert not (built_demo.root / "outbox" / f"{draft_id}.eml").exists()
    assert action_statuses(draft_id) == {"meeting": "approved", "task": "approved"}
    # the CRM is fixed: the next delivery sends it, with its task, once
    crm(built_demo, TASKS_DDL)
    assert deliver(built_demo)[draft_id].status == "delivered"
    assert len(crm(built_demo, "SELECT * FROM tasks")) == 1

    # `send`: the e-mail goes out alone and the task is recorded failed
    text = built_demo.config_path.read_text()
    built_demo.config_path.write_text(
        text.replace("on_action_failure: hold", "on_action_failure: send")
    )
    crm(built_demo, "DROP TABLE tasks")
    alone, actions = approve_first(built_demo)
    assert deliver(built_demo)[alone].status == "delivered"
    assert action_statuses(alone) == {"meeting": "done", "task": "failed"}
    failed = steward(
        "SELECT details FROM meta.audit_log WHERE action = 'action.failed' AND target = ?",
        [actions["task"]],
    ).details[0]
    assert "no such table" in failed and "sent without it" in failed
    assert verified(built_demo)


def test_a_client_whose_message_may_have_arrived_is_not_drafted_again(
    built_demo: DemoProject,
) -> None:
    """A draft left `sending` (no answer after the message began) is decided: a changed input
    gives no new draft to approve and send a second time."""
    from dataclasses import replace

    from hub.agents.runtime import run_agent

    draft_id, _ = approve_first(built_demo)
    with built_demo.store.transaction() as con:
        drafts.mark_sending(con, draft_id, "smtp 127.0.0.1:25", None)
        subject = drafts.get(con, draft_id)["subject_id"]
    [fresh] = run_agent(built_demo.config, "onboarding", only={subject})
    changed = replace(fresh, inputs={**fresh.inputs, "documents": {"new.md": "x"}})

    assert drafts.record(built_demo.store, "onboarding", [changed], None) == []
    assert subject in drafts.decided_subjects(built_demo.store, "onboarding")
