"""`agents.drafts`: its table, its statuses and every statement on it.

A draft is `pending` when an agent writes it; a human makes it `approved` or `rejected`;
delivery makes an approved one `sending` (committed before the message leaves), then
`delivered`, or `failed` (an unusable recipient, a refusal for good), or `approved` again
(nothing left: the server was down). A draft left `sending` (a crash, no answer) is never
sent again on its own: a human decides (`resend`, or `confirm_arrived`). A draft
keeps the fingerprint of its inputs (`hub.agents.inputs`): an agent re-run on the same
inputs writes nothing, so the subject's draft keeps its id, whatever its status; a changed
input gives a new draft, which makes a pending one `superseded`, with a reason naming what
changed (and the new one says which draft it replaces). A subject whose draft was approved
or delivered is done: it is never drafted again. Approval binds the content:
it records the SHA-256 of the canonical draft (recipient, subject line, body, and the
proposed actions the approver kept, `hub.actions`) in `approved_sha256` and the audit
trail, and delivery sends only what hashes the same.
Each subject has at most one live draft per agent, and every change of status lands in the
audit trail in the same transaction, so `hub audit verify` can replay the trail and find a
draft changed behind its back.
"""

from __future__ import annotations

import hashlib
import json
import re
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

import duckdb

from hub import actions, audit
from hub.agents.inputs import changes, digest, sha256
from hub.recipients import recipient_of, usable_address
from hub.schema import columns_of
from hub.store import now

if TYPE_CHECKING:
    import pandas as pd

    from hub.config import HubConfig
    from hub.store import Store

DDL = """
CREATE TABLE IF NOT EXISTS agents.drafts (
    draft_id VARCHAR PRIMARY KEY, agent VARCHAR, subject_id VARCHAR, subject_name VARCHAR,
    status VARCHAR, title VARCHAR, body VARCHAR, citations JSON, mode VARCHAR, model VARCHAR,
    run_id VARCHAR, trace_id VARCHAR, created_at TIMESTAMPTZ, decided_by VARCHAR,
    decided_at TIMESTAMPTZ, reason VARCHAR, delivered_at TIMESTAMPTZ, delivered_to VARCHAR);
ALTER TABLE agents.drafts ADD COLUMN IF NOT EXISTS recipient VARCHAR;
ALTER TABLE agents.drafts ADD COLUMN IF NOT EXISTS approved_sha256 VARCHAR;
ALTER TABLE agents.drafts ADD COLUMN IF NOT EXISTS needs_review BOOLEAN;
ALTER TABLE agents.drafts ADD COLUMN IF NOT EXISTS review_reasons JSON;
ALTER TABLE agents.drafts ADD COLUMN IF NOT EXISTS tool_calls JSON;
ALTER TABLE agents.drafts ADD COLUMN IF NOT EXISTS inputs_sha256 VARCHAR;
ALTER TABLE agents.drafts ADD COLUMN IF NOT EXISTS inputs JSON;
ALTER TABLE agents.drafts ADD COLUMN IF NOT EXISTS drafted_because VARCHAR;
"""
STATUSES = ("pending", "approved", "sending", "rejected", "superseded", "delivered", "failed")
DECIDED = ("approved", "sending", "delivered")
"""A subject with a draft in one of these is done: no agent drafts for it again (a `sending`
one may have arrived: only a human's `--resend` or `--arrived` decides it)."""
DRAFT_ID = re.compile(r"D-[0-9a-f]{10}")
"Use with `fullmatch` (`$` would let a trailing newline through)."


class DraftError(Exception):
    """The draft does not exist or is not in a state that allows the action."""


@dataclass(frozen=True)
class NewDraft:
    """What an agent hands over; the draft id, status and hashes are the table's business."""

    draft_id: str
    subject_id: str
    subject_name: str
    title: str
    body: str
    citations: dict[str, list[str]]
    tool_calls: list[dict[str, Any]]
    review_reasons: list[str]
    prompt: str
    mode: str
    model: str
    trace_id: str
    inputs: dict[str, Any] | None = None
    "The fingerprint's parts (`hub.agents.inputs`); None: unknown, so never the same."
    actions: list[dict[str, Any]] = field(default_factory=list)
    "Proposed actions (`hub.actions` payloads), executed only once a human approved them."

    @property
    def inputs_sha256(self) -> str | None:
        return None if self.inputs is None else digest(self.inputs)


def content_hash(recipient: str | None, title: str, body: str) -> str:
    """SHA-256 of the canonical draft: what is approved is exactly what can be sent."""
    canonical = json.dumps(
        {"recipient": recipient, "subject": title, "body": body},
        sort_keys=True,
        ensure_ascii=False,
        separators=(",", ":"),
    )
    return hashlib.sha256(canonical.encode()).hexdigest()


WRITTEN_BY_THE_AGENT = (
    "agent",
    "subject_id",
    "subject_name",
    "title",
    "body",
    "citations",
    "mode",
    "model",
    "run_id",
    "trace_id",
    "needs_review",
    "review_reasons",
    "tool_calls",
)
"The columns fixed when a draft is written: nothing after may change them."


def written_hash(draft: dict[str, Any]) -> str:
    """SHA-256 of everything the agent wrote into a draft's row (JSON columns compared as
    data, not as text)."""
    canonical = {
        name: json.loads(draft[name] or "null")
        if name in ("citations", "review_reasons", "tool_calls")
        else draft[name]
        for name in WRITTEN_BY_THE_AGENT
    }
    return sha256(canonical)


def differs_from_creation(draft: dict[str, Any], created: dict[str, Any] | None) -> str | None:
    """What in a draft's row is not what the agent wrote (its `agent.draft` audit record):
    the title and body, the subject, or the review flags. None when it all matches."""
    if not created:
        return "the trail has no record of the agent writing it"
    if content_hash(None, draft["title"], draft["body"]) != created.get("content_sha256"):
        return "its title or body differs from what the agent wrote"
    if draft["subject_id"] != created.get("subject_id"):
        return "its subject (and so its recipient) differs from the one the agent wrote for"
    reasons = json.loads(draft["review_reasons"] or "[]")
    if reasons != (created.get("needs_review") or []) or bool(draft["needs_review"]) != bool(
        reasons
    ):
        return "its review flags differ from the ones found when the agent wrote it"
    if written_hash(draft) != created.get("draft_sha256"):
        return "its citations, tool calls, model or other details differ from what was written"
    if draft.get("inputs_sha256") != created.get("inputs_sha256"):
        return "its input fingerprint differs from the one recorded when the agent wrote it"
    return None


def actions_differ(
    con: duckdb.DuckDBPyConnection, draft_id: str, created: dict[str, Any] | None
) -> str | None:
    """Whether the draft's proposed actions are not the ones the agent wrote."""
    if created and actions.as_written(con, draft_id) != (created.get("actions") or []):
        return "its proposed actions differ from the ones the agent wrote"
    return None


def creation_record(con: duckdb.DuckDBPyConnection, draft_id: str) -> dict[str, Any] | None:
    """The details of the audit record in which an agent wrote the draft."""
    row = con.execute(
        "SELECT details FROM meta.audit_log WHERE action = 'agent.draft' AND target = ? "
        "ORDER BY seq DESC LIMIT 1",
        [draft_id],
    ).fetchone()
    return json.loads(row[0]) if row else None


# --- reading ---------------------------------------------------------------------------


def list_drafts(store: Store, status: str | None = None) -> pd.DataFrame:
    """The drafts (superseded ones only when asked for), with a note: why a pending draft
    was written (the draft it replaces and what changed), or the reason of its status."""
    if status is not None and status not in STATUSES:
        raise DraftError(f"no status {status!r}; use one of {', '.join(STATUSES)}.")
    with store.reader() as con:
        # a store written before drafts kept their inputs lacks the column until a writer
        # migrates it (the next `hub run`): list it all the same
        known = columns_of(con, "agents.drafts")
        because = "drafted_because" if "drafted_because" in known else "NULL"
        return con.execute(
            "SELECT draft_id, agent, subject_name AS subject, status, "
            "CASE WHEN needs_review THEN 'needs_review' ELSE '' END AS review, title, "
            f"coalesce(reason, {because}, '') AS note, created_at, decided_by "
            "FROM agents.drafts WHERE (? IS NULL AND status <> 'superseded') OR status = ? "
            "ORDER BY created_at, draft_id",
            [status, status],
        ).df()


def get(con: duckdb.DuckDBPyConnection, draft_id: str) -> dict[str, Any]:
    cursor = con.execute("SELECT * FROM agents.drafts WHERE draft_id = ?", [draft_id])
    row = cursor.fetchone()
    if row is None:
        raise DraftError(f"no draft {draft_id}. See `hub drafts` for the ids.")
    return dict(zip([d[0] for d in cursor.description], row, strict=True))


def counts(con: duckdb.DuckDBPyConnection) -> dict[str, int]:
    """status -> number of drafts, superseded ones left out."""
    return dict(
        con.execute(
            "SELECT status, count(*) FROM agents.drafts WHERE status <> 'superseded' "
            "GROUP BY status ORDER BY status"
        ).fetchall()
    )


def first_pending(con: duckdb.DuckDBPyConnection) -> str | None:
    row = con.execute(
        "SELECT draft_id FROM agents.drafts WHERE status = 'pending' "
        "ORDER BY created_at, draft_id LIMIT 1"
    ).fetchone()
    return row[0] if row else None


def decided_subjects(store: Store, agent: str) -> set[str]:
    """Subjects whose draft a human already approved (or that was delivered): done."""
    with store.reader() as con:
        return _decided(con, agent)


def _decided(con: duckdb.DuckDBPyConnection, agent: str) -> set[str]:
    rows = con.execute(
        "SELECT DISTINCT subject_id FROM agents.drafts "
        "WHERE agent = ? AND list_contains(?, status)",
        [agent, list(DECIDED)],
    ).fetchall()
    return {r[0] for r in rows}


def drafted_inputs(store: Store, agent: str) -> dict[str, str | None]:
    """subject id -> the input fingerprint of its latest draft that is not superseded
    (whatever its status): the agent does not draft again for the same inputs. Read by a
    writer, which brings a table from before fingerprints up to date first."""
    with store.writer() as con:
        return dict(
            con.execute(
                "SELECT subject_id, inputs_sha256 FROM agents.drafts "
                "WHERE agent = ? AND status <> 'superseded' QUALIFY row_number() OVER "
                "(PARTITION BY subject_id ORDER BY created_at DESC, draft_id DESC) = 1",
                [agent],
            ).fetchall()
        )


def pending_ids(store: Store, agent: str) -> list[str]:
    with store.reader() as con:
        rows = con.execute(
            "SELECT draft_id FROM agents.drafts WHERE agent = ? AND status = 'pending' "
            "ORDER BY created_at, draft_id",
            [agent],
        ).fetchall()
    return [r[0] for r in rows]


def approved_ids(store: Store) -> list[str]:
    with store.reader() as con:
        rows = con.execute(
            "SELECT draft_id FROM agents.drafts WHERE status = 'approved' ORDER BY draft_id"
        ).fetchall()
    return [r[0] for r in rows]


def sending_ids(store: Store) -> list[str]:
    """Drafts whose message left (or was about to) with no answer recorded: unknown."""
    with store.reader() as con:
        rows = con.execute(
            "SELECT draft_id FROM agents.drafts WHERE status = 'sending' ORDER BY draft_id"
        ).fetchall()
    return [r[0] for r in rows]


# --- writing: agents -------------------------------------------------------------------


def record(store: Store, agent: str, drafts: list[NewDraft], run_id: str | None) -> list[str]:
    """Add the new drafts as pending; returns the ids written. One transaction, in which the
    subject's latest draft decides: a subject decided meanwhile (a human approved while the
    agent ran) gets no new draft, so a subject never has an approved and a pending draft; a
    draft on the same inputs as the latest one is not written (that one keeps its id); else
    the subject's pending draft is superseded, with what changed as the reason."""
    written = []
    with store.transaction() as con:
        decided = _decided(con, agent)
        for draft in drafts:
            if draft.subject_id in decided:
                continue
            latest = _latest(con, agent, draft.subject_id)
            if latest is None:
                because = None
            elif draft.inputs_sha256 is not None and (
                latest["inputs_sha256"] == draft.inputs_sha256
            ):
                continue
            else:
                what = _what_changed(latest, draft)
                if latest["status"] == "pending":
                    because = f"replaces {latest['draft_id']}: {what}"
                else:
                    because = f"after {latest['status']} {latest['draft_id']}: {what}"
                _supersede_pending(con, agent, draft.subject_id, by=draft.draft_id, what=what)
            _insert(con, agent, draft, run_id, because)
            written.append(draft.draft_id)
    return written


def _latest(con: duckdb.DuckDBPyConnection, agent: str, subject_id: str) -> dict | None:
    """The subject's latest draft that is not superseded: its id, status and inputs."""
    row = con.execute(
        "SELECT draft_id, status, inputs_sha256, inputs FROM agents.drafts "
        "WHERE agent = ? AND subject_id = ? AND status <> 'superseded' "
        "ORDER BY created_at DESC, draft_id DESC LIMIT 1",
        [agent, subject_id],
    ).fetchone()
    if row is None:
        return None
    return dict(zip(("draft_id", "status", "inputs_sha256", "inputs"), row, strict=True))


def _what_changed(latest: dict[str, Any], draft: NewDraft) -> str:
    if draft.inputs is None:
        return "a new draft was handed in without a record of its inputs"
    return "inputs changed: " + changes(json.loads(latest["inputs"] or "null"), draft.inputs)


def _supersede_pending(
    con: duckdb.DuckDBPyConnection, agent: str, subject_id: str, *, by: str, what: str
) -> None:
    stale = con.execute(
        "SELECT draft_id FROM agents.drafts WHERE agent = ? AND subject_id = ? "
        "AND status = 'pending'",
        [agent, subject_id],
    ).fetchall()
    for (draft_id,) in stale:
        reason = f"superseded by {by}: {what}"
        con.execute(
            "UPDATE agents.drafts SET status = 'superseded', reason = ? WHERE draft_id = ?",
            [reason, draft_id],
        )
        audit.append(
            con,
            actor=f"agent:{agent}",
            action="draft.supersede",
            target=draft_id,
            details={"by": by, "reason": reason},
        )


def _insert(
    con: duckdb.DuckDBPyConnection,
    agent: str,
    draft: NewDraft,
    run_id: str | None,
    because: str | None,
) -> None:
    row = {
        "draft_id": draft.draft_id,
        "agent": agent,
        "subject_id": draft.subject_id,
        "subject_name": draft.subject_name,
        "status": "pending",
        "title": draft.title,
        "body": draft.body,
        "citations": json.dumps(draft.citations),
        "mode": draft.mode,
        "model": draft.model,
        "run_id": run_id,
        "trace_id": draft.trace_id,
        "created_at": now(),
        "needs_review": bool(draft.review_reasons),
        "review_reasons": json.dumps(draft.review_reasons),
        "tool_calls": json.dumps(draft.tool_calls, default=str),
        "inputs_sha256": draft.inputs_sha256,
        "inputs": None if draft.inputs is None else json.dumps(draft.inputs),
        "drafted_because": because,
    }
    con.execute(
        f"INSERT INTO agents.drafts ({', '.join(row)}) VALUES ({', '.join('?' * len(row))})",
        list(row.values()),
    )
    proposed = actions.record(con, draft.draft_id, draft.actions)
    audit.append(
        con,
        actor=f"agent:{agent}",
        action="agent.draft",
        target=draft.draft_id,
        details={
            "subject_id": draft.subject_id,
            "content_sha256": content_hash(None, draft.title, draft.body),
            "draft_sha256": written_hash(row),
            "prompt": draft.prompt,
            "tool_calls": draft.tool_calls,
            "output": {"title": draft.title, "body": draft.body},
            "needs_review": draft.review_reasons,
            "mode": draft.mode,
            "model": draft.model,
            "run_id": run_id,
            "trace_id": draft.trace_id,
            "inputs_sha256": draft.inputs_sha256,
            "inputs": draft.inputs,
            "drafted_because": because,
            "actions": proposed,
        },
    )


# --- writing: humans -------------------------------------------------------------------


def approve(
    store: Store,
    config: HubConfig,
    draft_id: str,
    by: str,
    seen: str | None = None,
    without: list[str] = (),
) -> str:
    """Approve a pending draft for the recipient it has now, with its proposed actions but
    those in `without` (declined); returns the hash the approval binds (recipient, content
    and approved actions). `seen` is the hash of what the approver was shown: if the draft or
    its recipient changed since, the approval is refused. A draft whose recipient cannot be
    delivered to is refused."""
    _require_decider(by)
    with store.transaction() as con:
        draft = _pending(con, draft_id, "approved")
        created = creation_record(con, draft_id)
        changed = differs_from_creation(draft, created) or actions_differ(con, draft_id, created)
        if changed:
            raise DraftError(
                f"draft {draft_id} cannot be approved: {changed}, so it was changed outside "
                "Groundwork. Reject it, and run `hub audit verify`."
            )
        recipient, problem = usable_address(recipient_of(con, config, draft["subject_id"]))
        if recipient is None:
            raise DraftError(
                f"draft {draft_id} cannot be approved: {problem}. Fix the subject's e-mail in "
                "its source, reload, then let the agent draft again."
            )
        try:
            chosen = actions.decide(con, draft_id, list(without), by)
        except actions.ActionError as exc:
            raise DraftError(str(exc)) from None
        digest = approval_digest(con, draft, recipient, list(without))
        if seen is not None and seen != digest:
            raise DraftError(
                f"draft {draft_id} or its recipient changed while you were reading it; nothing "
                f"was approved. Read it again (`hub draft {draft_id}`), then decide."
            )
        con.execute(
            "UPDATE agents.drafts SET status = 'approved', decided_by = ?, decided_at = ?, "
            "reason = NULL, recipient = ?, approved_sha256 = ? WHERE draft_id = ?",
            [by, now(), recipient, digest, draft_id],
        )
        audit.append(
            con,
            actor=f"human:{by}",
            action="draft.approve",
            target=draft_id,
            details={
                "content_sha256": digest,
                "needs_review": draft["needs_review"],
                **(chosen if chosen["approved"] or chosen["declined"] else {}),
            },
        )
    return digest


def reject(store: Store, draft_id: str, by: str, reason: str) -> None:
    _require_decider(by)
    if not reason.strip():
        raise DraftError("a rejection needs a reason: pass --reason TEXT.")
    with store.transaction() as con:
        _pending(con, draft_id, "rejected")
        con.execute(
            "UPDATE agents.drafts SET status = 'rejected', decided_by = ?, decided_at = ?, "
            "reason = ? WHERE draft_id = ?",
            [by, now(), reason, draft_id],
        )
        audit.append(
            con,
            actor=f"human:{by}",
            action="draft.reject",
            target=draft_id,
            details={"reason": reason},
        )


def _require_decider(by: str) -> None:
    if not by.strip():
        raise DraftError("say who decides: pass --by NAME.")


def _pending(con: duckdb.DuckDBPyConnection, draft_id: str, becoming: str) -> dict[str, Any]:
    draft = get(con, draft_id)
    if draft["status"] != "pending":
        why = f" ({draft['reason']})" if draft["status"] == "superseded" else ""
        raise DraftError(
            f"draft {draft_id} is {draft['status']}{why}; only pending drafts can be {becoming}."
        )
    return draft


# --- writing: delivery -----------------------------------------------------------------


def approval_digest(
    con: duckdb.DuckDBPyConnection,
    draft: dict[str, Any],
    address: str | None,
    without: list[str] = (),
) -> str:
    """What an approval binds, computed the same way when showing, approving and sending:
    the recipient, subject line and body, and the approved actions (id, kind, payload): for
    a pending draft, each one not in `without` (what the approver is about to decline); once
    decided, each one not declined. A draft without actions hashes as its content alone."""
    content = content_hash(address, draft["title"], draft["body"])
    decided = draft["status"] != "pending"
    bound = actions.bound(con, draft["draft_id"], list(without), decided=decided)
    return sha256({"content": content, "actions": bound}) if bound else content


def mark_sending(
    con: duckdb.DuckDBPyConnection, draft_id: str, channel: str, run_id: str | None
) -> None:
    """Committed on its own before the message is handed over: from here on, a crash leaves
    the draft `sending`, which nothing sends again without a human's decision."""
    since = f"sending through {channel} since {now():%Y-%m-%d %H:%M:%S} UTC"
    con.execute(
        "UPDATE agents.drafts SET status = 'sending', reason = ? WHERE draft_id = ?",
        [since, draft_id],
    )
    details = {"channel": channel, "run_id": run_id}
    audit.append(con, actor="delivery", action="draft.sending", target=draft_id, details=details)


def mark_delivered(
    con: duckdb.DuckDBPyConnection,
    draft_id: str,
    recipient: str,
    details: dict[str, Any],
    actor: str = "delivery",
) -> None:
    con.execute(
        "UPDATE agents.drafts SET status = 'delivered', delivered_at = ?, delivered_to = ?, "
        "reason = NULL WHERE draft_id = ?",
        [now(), recipient, draft_id],
    )
    audit.append(con, actor=actor, action="draft.deliver", target=draft_id, details=details)


def mark_not_sent(con: duckdb.DuckDBPyConnection, draft_id: str, why: str, run_id: str | None):
    """Nothing left (the server was down, or said "later"): approved again, so the next
    delivery tries again."""
    con.execute(
        "UPDATE agents.drafts SET status = 'approved', reason = ? WHERE draft_id = ?",
        [why, draft_id],
    )
    _audit_not_sent(con, "draft.deliver_deferred", draft_id, why, run_id)


def mark_unknown(con: duckdb.DuckDBPyConnection, draft_id: str, why: str, run_id: str | None):
    """The message may have arrived (no answer after it began): it stays `sending`, with why."""
    con.execute("UPDATE agents.drafts SET reason = ? WHERE draft_id = ?", [why, draft_id])
    _audit_not_sent(con, "draft.deliver_unknown", draft_id, why, run_id)


RESENDABLE = ("sending", "failed")
"What a human may send once more: unknown (checked on the mail server) or failed (fixed)."


def resend(store: Store, draft_id: str, by: str) -> str:
    """A human's decision to send a draft once more: one left `sending` (after checking the
    mail server does not have it) or `failed` (after fixing what refused it). It is approved
    again, so the next delivery checks it like any approved draft (recipient, content) and
    sends it once. Returns the status it had."""
    _require_decider(by)
    with store.transaction() as con:
        draft = get(con, draft_id)
        was = draft["status"]
        if was not in RESENDABLE or not draft["approved_sha256"]:
            raise DraftError(
                f"draft {draft_id} is {was}; only a draft left sending (unknown) or failed "
                "can be sent again."
            )
        latest = _latest(con, draft["agent"], draft["subject_id"])
        if latest is not None and latest["draft_id"] != draft_id:
            raise DraftError(
                f"draft {draft_id} cannot be sent again: {latest['draft_id']} "
                f"({latest['status']}) came after it for the same subject. Decide on that one."
            )
        con.execute(
            "UPDATE agents.drafts SET status = 'approved', reason = ? WHERE draft_id = ?",
            [f"to be sent again, decided by {by} (it was {was})", draft_id],
        )
        audit.append(
            con,
            actor=f"human:{by}",
            action="draft.resend",
            target=draft_id,
            details={"was": was, "why_it_was": draft["reason"]},
        )
    return was


def confirm_arrived(store: Store, draft_id: str, by: str) -> None:
    """A human found the message of a draft left `sending` on the mail server (or in the
    recipient's mailbox): it is delivered, on their word, audited as theirs. Nothing is sent."""
    _require_decider(by)
    with store.transaction() as con:
        draft = get(con, draft_id)
        if draft["status"] != "sending":
            raise DraftError(
                f"draft {draft_id} is {draft['status']}; only a draft left sending (unknown) "
                "can be confirmed as arrived."
            )
        details = {"confirmed_by": by, "was": draft["reason"]}
        mark_delivered(con, draft_id, draft["recipient"], details, actor=f"human:{by}")


def mark_failed(con: duckdb.DuckDBPyConnection, draft_id: str, why: str, run_id: str | None):
    """An approved draft that cannot be delivered as approved; nothing was sent."""
    con.execute(
        "UPDATE agents.drafts SET status = 'failed', reason = ? WHERE draft_id = ?",
        [why, draft_id],
    )
    _audit_not_sent(con, "draft.deliver_failed", draft_id, why, run_id)


def void_approval(con: duckdb.DuckDBPyConnection, draft_id: str, why: str, run_id: str | None):
    """The draft no longer hashes to what was approved: back to pending, to be approved again
    (or rejected) by a human who sees what it now says."""
    con.execute(
        "UPDATE agents.drafts SET status = 'pending', decided_by = NULL, decided_at = NULL, "
        "recipient = NULL, approved_sha256 = NULL, reason = ? WHERE draft_id = ?",
        [why, draft_id],
    )
    _audit_not_sent(con, "draft.deliver_refused", draft_id, why, run_id)


def _audit_not_sent(
    con: duckdb.DuckDBPyConnection, action: str, draft_id: str, why: str, run_id: str | None
) -> None:
    details = {"reason": why, "run_id": run_id}
    audit.append(con, actor="delivery", action=action, target=draft_id, details=details)
