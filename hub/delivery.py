"""Delivery: approved drafts leave the system as `.eml` files in the outbox, at most once.

Each approved draft is handled on its own, in its own transaction:
- its id must be a Groundwork draft id, and its file must resolve inside `outbox/`;
- its subject's address (from the governed store: agents only saw it masked) must be exactly
  one valid address, else the draft is `failed` with the reason;
- the draft must hash to what the human approved (recipient, subject line, body), else the
  approval is void and the draft is pending again;
- then the message is written whole under a temporary name and linked into place as
  `<draft_id>.eml` (a second delivery finds it and writes nothing), and the draft is
  `delivered`. Each outcome is audited; one bad draft never stops the others.
"""

from __future__ import annotations

import email.policy
from dataclasses import dataclass
from email.message import EmailMessage
from email.parser import BytesHeaderParser
from email.utils import formatdate, make_msgid
from pathlib import Path

import duckdb

from hub import drafts
from hub.config import HubConfig
from hub.recipients import recipient_of, usable_address
from hub.secrets import scrub
from hub.store import Store, StoreError, audit_head, write_new_file

HEADERS_ON_ONE_LINE = email.policy.default.clone(max_line_length=998)
"Hashes in headers stay on one line (RFC 5322 allows 998 characters)."
CONTENT_HEADER = "X-Groundwork-Content-SHA256"


@dataclass(frozen=True)
class Outcome:
    draft_id: str
    status: str
    "`delivered`, `failed` (nothing sent) or `pending` (changed after approval: approve again)"
    detail: str
    "The file written, or why nothing was sent."


def deliver_approved(config: HubConfig, store: Store, run_id: str | None = None) -> list[Outcome]:
    """Deliver every approved draft, each on its own; returns what happened to each."""
    outbox = config.resolve(config.delivery.outbox).resolve()
    outbox.mkdir(parents=True, exist_ok=True)
    outcomes = []
    for draft_id in drafts.approved_ids(store):
        try:
            outcomes.append(_deliver_one(config, store, outbox, draft_id, run_id))
        except (OSError, StoreError, duckdb.Error) as exc:  # the others still go out
            why = f"not sent, still approved: {scrub(str(exc))}. Fix the cause, then deliver again"
            outcomes.append(Outcome(draft_id, "approved", why))
    return outcomes


def _deliver_one(
    config: HubConfig, store: Store, outbox: Path, draft_id: str, run_id: str | None
) -> Outcome:
    with store.transaction() as con:
        draft = drafts.get(con, draft_id)
        if draft["status"] != "approved":
            return Outcome(draft_id, draft["status"], "no longer approved; nothing was sent")
        path = outbox / f"{draft_id}.eml"
        if not drafts.DRAFT_ID.fullmatch(draft_id) or path.resolve().parent != outbox:
            why = "its id is not a Groundwork draft id, so it cannot name a file; nothing was sent"
            drafts.mark_failed(con, draft_id, why, run_id)
            return Outcome(draft_id, "failed", why)
        address, problem = usable_address(recipient_of(con, config, draft["subject_id"]))
        if address is None:
            why = f"{problem}; nothing was sent. Fix the subject's e-mail, then draft again"
            drafts.mark_failed(con, draft_id, why, run_id)
            return Outcome(draft_id, "failed", why)
        if drafts.content_hash(address, draft["title"], draft["body"]) != draft["approved_sha256"]:
            why = (
                "its recipient or content changed after it was approved; nothing was sent. "
                f"Read it again (`hub draft {draft_id}`) and approve it again"
            )
            drafts.void_approval(con, draft_id, why, run_id)
            return Outcome(draft_id, "pending", why)
        try:
            message = _message(config.delivery.sender, address, draft, audit_head(con))
        except ValueError as exc:  # a header the e-mail library refuses to write
            why = f"the message cannot be written ({exc}); nothing was sent"
            drafts.mark_failed(con, draft_id, scrub(why), run_id)
            return Outcome(draft_id, "failed", why)
        if not _write_once(path, message, draft["approved_sha256"]):
            why = "the outbox holds another message under this draft's name; nothing was sent"
            drafts.mark_failed(con, draft_id, why, run_id)
            return Outcome(draft_id, "failed", why)
        drafts.mark_delivered(
            con,
            draft_id,
            address,
            {"channel": "outbox", "file": path.name, "run_id": run_id},
        )
    return Outcome(draft_id, "delivered", path.name)


def _message(sender: str, to: str, draft: dict, anchored: tuple[int, str] | None) -> bytes:
    message = EmailMessage(policy=HEADERS_ON_ONE_LINE)
    message["From"] = sender
    message["To"] = to
    message["Subject"] = " ".join(str(draft["title"]).split())  # a header holds one line
    message["Date"] = formatdate(localtime=False)
    message["Message-ID"] = make_msgid(idstring=draft["draft_id"])
    message["X-Groundwork-Draft"] = draft["draft_id"]
    message[CONTENT_HEADER] = draft["approved_sha256"]
    if anchored:
        message["X-Groundwork-Audit-Head"] = f"{anchored[0]}:{anchored[1]}"
    message.set_content(draft["body"])
    return bytes(message)


def _write_once(path: Path, message: bytes, approved_sha256: str) -> bool:
    """Write the whole file under a temporary name, then link it into place: the outbox
    never holds a partial message, and a second delivery of the same draft writes nothing.
    False when the name is taken by a message of other content (not this approval's)."""
    if not write_new_file(path, message):
        with path.open("rb") as existing:
            found = BytesHeaderParser(policy=HEADERS_ON_ONE_LINE).parse(existing)
        return found.get(CONTENT_HEADER) == approved_sha256
    return True
