"""The audit trail: `meta.audit_log`, append-only and hash-chained, its head anchored outside.

Each record carries the hash of the previous one, and its own hash covers every field, so
editing, inserting or deleting a record breaks the chain from there on. Every writer of
the store anchors the latest sequence number and hash in a small file beside it
(`<store>.audit-head`) before it lets go of the store, so records cut off the end show too.
`verify` also replays the trail's draft records and compares them with `agents.drafts`: a
status, decider, recipient or content that changed without a record is found.
Callers append inside the transaction that does the work, so the record and the change
land together. Details are scrubbed of every known secret before they are written.
"""

from __future__ import annotations

import hashlib
import json
from dataclasses import dataclass
from email.parser import BytesHeaderParser
from pathlib import Path
from typing import Any

import duckdb

from hub.secrets import scrub
from hub.store import Store, StoreError, audit_head, now, read_anchor, write_anchor

GENESIS = "0" * 64


def append(
    con: duckdb.DuckDBPyConnection,
    *,
    actor: str,
    action: str,
    target: str,
    details: dict[str, Any] | None = None,
) -> int:
    """Append one record chained to the last; returns its sequence number."""
    last = audit_head(con)
    seq, prev_hash = (last[0] + 1, last[1]) if last else (1, GENESIS)
    at = now().isoformat()
    body = scrub(json.dumps(details or {}, sort_keys=True, default=str))
    digest = _hash(seq, at, actor, action, target, body, prev_hash)
    con.execute(
        "INSERT INTO meta.audit_log VALUES (?, ?, ?, ?, ?, ?, ?, ?)",
        [seq, at, actor, action, target, body, prev_hash, digest],
    )
    return seq


@dataclass(frozen=True)
class Verdict:
    ok: bool
    records: int
    problem: str = ""


def verify(con: duckdb.DuckDBPyConnection, anchor: Path, outbox: Path | None = None) -> Verdict:
    """Walk the chain from the first record, check its end against the anchor and the heads
    that delivered messages carry (`X-Groundwork-Audit-Head`), then replay the drafts;
    report the first record (or draft) that does not fit."""
    rows = con.execute(
        "SELECT seq, logged_at, actor, action, target, details, prev_hash, hash "
        "FROM meta.audit_log ORDER BY seq"
    ).fetchall()
    prev_hash = GENESIS
    for expected_seq, (seq, at, actor, action, target, body, prev, digest) in enumerate(
        rows, start=1
    ):
        if seq != expected_seq:
            return Verdict(False, len(rows), f"record {expected_seq} is missing (found {seq})")
        if prev != prev_hash:
            return Verdict(False, len(rows), f"record {seq} does not chain to record {seq - 1}")
        if digest != _hash(seq, at, actor, action, target, body, prev):
            return Verdict(False, len(rows), f"record {seq} was changed after it was written")
        prev_hash = digest
    problem = (
        _check_anchor(rows, anchor) or _check_witnesses(rows, outbox) or _check_drafts(con, rows)
    )
    return Verdict(not problem, len(rows), problem or "")


def _check_anchor(rows: list[tuple], anchor: Path) -> str | None:
    try:
        anchored = read_anchor(anchor)
    except StoreError as exc:
        return f"{exc} Fix: {_REANCHOR}"
    if anchored is None:
        return f"the head anchor {anchor} is missing. Fix: {_REANCHOR}" if rows else None
    seq, digest = anchored
    if len(rows) < seq:
        cut = f"record {seq} was" if len(rows) + 1 == seq else f"records {len(rows) + 1}-{seq} were"
        return (
            f"{cut} cut off the end: the trail stops at record {len(rows)} but {anchor.name} "
            f"says record {seq} was written"
        )
    if seq < 1 or rows[seq - 1][7] != digest:
        return (
            f"record {seq} is not the record {anchor.name} anchored: the trail was cut and "
            "written again, or rewritten"
        )
    return None


_REANCHOR = (
    "if you know why, accept the trail as it is now with `hub audit anchor --by NAME --reason "
    "TEXT` (audited); otherwise restore the store and its anchor from a backup."
)


def reanchor(store: Store, by: str, reason: str) -> tuple[int, str]:
    """Accept the trail as it is: one audited record, then the anchor on it."""
    if not by.strip() or not reason.strip():
        raise StoreError("say who re-anchors and why: pass --by NAME and --reason TEXT.")
    with store.writer() as con:
        try:
            was = read_anchor(store.audit_anchor)
        except StoreError:
            was = None
        append(
            con,
            actor=f"human:{by}",
            action="audit.anchor",
            target="meta.audit_log",
            details={"reason": reason, "anchor_was": was},
        )
        accepted = audit_head(con)
        write_anchor(store.audit_anchor, accepted)
    return accepted


def _check_witnesses(rows: list[tuple], outbox: Path | None) -> str | None:
    """Every delivered message names the trail's head when it was sent: it must still be
    there, unchanged."""
    if outbox is None or not outbox.is_dir():
        return None
    parser = BytesHeaderParser()
    for message in sorted(outbox.glob("*.eml")):
        with message.open("rb") as file:
            witnessed = parser.parse(file).get("X-Groundwork-Audit-Head")
        if not witnessed:
            continue
        seq_text, _, digest = "".join(str(witnessed).split()).partition(":")
        seq = int(seq_text) if seq_text.isdigit() else 0
        if not 0 < seq <= len(rows) or rows[seq - 1][7] != digest:
            return (
                f"{message.name} was sent when the trail's head was record {seq_text}, which "
                "the trail no longer holds as it was: records were cut or rewritten"
            )
    return None


_DRAFT_STATUS = {
    "agent.draft": "pending",
    "draft.supersede": "superseded",
    "draft.approve": "approved",
    "draft.reject": "rejected",
    "draft.sending": "sending",
    "draft.deliver": "delivered",
    "draft.deliver_failed": "failed",
    "draft.deliver_refused": "pending",
    "draft.deliver_deferred": "approved",
    "draft.deliver_unknown": "sending",
    "draft.resend": "approved",
}


def _check_drafts(con: duckdb.DuckDBPyConnection, rows: list[tuple]) -> str | None:
    """Replay the draft records and compare each draft's row with what they say."""
    from hub.drafts import actions_differ, approval_digest, differs_from_creation

    expected: dict[str, dict[str, Any]] = {}
    for seq, _, actor, action, target, body, _, _ in rows:
        if action not in _DRAFT_STATUS:
            continue
        details = json.loads(body)
        state = expected.setdefault(target, {"created": None, "approved": None, "by": None})
        state.update(status=_DRAFT_STATUS[action], seq=seq)
        if action == "agent.draft":
            state["created"] = details
        elif action in ("draft.approve", "draft.reject"):
            state["by"] = actor.removeprefix("human:")
            state["approved"] = details.get("content_sha256")
        elif action == "draft.deliver_refused":
            state.update(by=None, approved=None)
    cursor = con.execute("SELECT * FROM agents.drafts ORDER BY created_at, draft_id")
    names = [d[0] for d in cursor.description]
    for draft in (dict(zip(names, row, strict=True)) for row in cursor.fetchall()):
        draft_id, status, by = draft["draft_id"], draft["status"], draft["decided_by"]
        state = expected.pop(draft_id, None)
        if state is None:
            return f"draft {draft_id} has no audit record: it was written outside Groundwork"
        where = f"draft {draft_id} (last audited in record {state['seq']})"
        if status != state["status"]:
            return f"{where} is {status!r} in agents.drafts but {state['status']!r} in the trail"
        if (by or None) != state["by"]:
            return f"{where}: decided by {by!r} in agents.drafts, {state['by']!r} in the trail"
        changed = differs_from_creation(draft, state["created"]) or actions_differ(
            con, draft_id, state["created"]
        )
        if changed:
            return f"{where}: {changed}"
        now_hash = approval_digest(con, draft, draft["recipient"])
        if state["approved"] and {draft["approved_sha256"], now_hash} != {state["approved"]}:
            return f"{where}: its recipient or content differs from what was approved"
    if expected:
        missing = next(iter(expected))
        return f"draft {missing} is in the trail but missing from agents.drafts"
    return None


def _hash(seq: int, at: str, actor: str, action: str, target: str, body: str, prev: str) -> str:
    payload = json.dumps([seq, at, actor, action, target, body, prev], separators=(",", ":"))
    return hashlib.sha256(payload.encode()).hexdigest()
