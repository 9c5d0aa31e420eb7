"""Delivery: approved drafts leave the system, each at most once, as `.eml` files in the outbox
or through an SMTP server (`delivery.smtp`, sent by `hub.smtp`).

Each approved draft is handled on its own, in three steps:
1. in one transaction: its id must be a Groundwork draft id (it names a file and the
   Message-ID); its subject's address (from the governed store: agents only saw it masked)
   must be exactly one valid address, else the draft is `failed` with the reason; the draft
   must hash to what the human approved (`drafts.approval_digest`), else the approval is void
   and the draft is pending again. Then the draft is `sending` (audited, with the channel),
   committed before anything leaves;
2. the message is handed over, outside any transaction (no lock on the store while a server
   takes its time);
3. in one transaction, what came of it: `delivered` (with the server's reply, or the file);
   `failed` when refused for good (a 5xx to the recipient or the message; another message
   in the outbox under its name); `approved` again when nothing left (the server down, a
   temporary refusal that outlasted the retries, our login refused): the next delivery
   tries again; still `sending` when nobody can know (no answer after the message began).

A draft left `sending` (that, or a crash between steps 1 and 3) is never sent again on its
own: every later delivery reports it as "unknown — check the mail server" and sends nothing,
until a human decides with `hub deliver --resend ID --by NAME` (send it once more) or
`--arrived ID --by NAME` (it did arrive). In the outbox the file is the proof: a `sending`
draft whose `<draft_id>.eml` is in place with the approved content hash is recorded
delivered (a file is linked into place whole, so one that is there is complete).
When the server itself cannot be used (down, our login refused) or left a message without an
answer, the drafts after it in the same run are not tried and stay approved. Every message
of one approval carries the same Message-ID, so a resend of one that did arrive is
recognisable as the same message.
"""

from __future__ import annotations

import email.policy
from collections.abc import Sequence
from dataclasses import dataclass
from email.message import EmailMessage
from email.parser import BytesHeaderParser
from email.utils import formatdate, parseaddr
from pathlib import Path

import duckdb

from hub import actions, drafts, smtp
from hub.config import HubConfig
from hub.recipients import recipient_of, usable_address
from hub.secrets import scrub
from hub.smtp import SendResult
from hub.store import Store, StoreError, audit_head, write_new_file

HEADERS_ON_ONE_LINE = email.policy.default.clone(max_line_length=998)
"Hashes in headers stay on one line (RFC 5322 allows 998 characters)."
CONTENT_HEADER = "X-Groundwork-Content-SHA256"
UNKNOWN = "unknown — check the mail server"
SAID = {"approved": "still approved", "pending": "back to pending", "sending": UNKNOWN}
"How a report names an outcome's status (the others by their name)."


@dataclass(frozen=True)
class Outcome:
    draft_id: str
    status: str
    "`delivered`; `failed` (nothing sent, refused for good); `approved` (nothing sent, the "
    "next delivery tries again); `pending` (changed after approval: approve again); "
    "`sending` (unknown: it may have arrived, a human decides)."
    detail: str
    "The server's reply or the file written, or why it was not delivered."

    def describe(self) -> str:
        """One line for people and logs: `draft D-… failed: why`."""
        return f"draft {self.draft_id} {SAID.get(self.status, self.status)}: {self.detail}"


@dataclass(frozen=True)
class _Ready:
    """A draft committed as `sending`, with the message to hand over."""

    draft_id: str
    channel: str
    "`outbox`, or `smtp host:port`."
    address: str
    approved_sha256: str
    message: bytes


def deliver_approved(config: HubConfig, store: Store, run_id: str | None = None) -> list[Outcome]:
    """Report every draft left `sending`, then deliver every approved draft, each on its own;
    returns what happened to each."""
    outbox = None
    if config.delivery.smtp is None:
        outbox = config.resolve(config.delivery.outbox).resolve()
        outbox.mkdir(parents=True, exist_ok=True)
    outcomes = []
    for draft_id in drafts.sending_ids(store):
        try:
            outcomes.append(_left_sending(store, outbox, draft_id, run_id))
        except (OSError, StoreError, duckdb.Error) as exc:
            outcomes.append(Outcome(draft_id, "sending", _unknown(draft_id, scrub(str(exc)))))
    unusable = None
    for draft_id in drafts.approved_ids(store):
        if unusable:
            outcomes.append(Outcome(draft_id, "approved", f"not tried, as {unusable}"))
            continue
        try:
            outcome, result = _deliver_one(config, store, outbox, draft_id, run_id)
        except (OSError, StoreError, duckdb.Error) as exc:  # the others still go out
            why = f"not sent: {scrub(str(exc))}. Fix the cause, then deliver again"
            outcome, result = Outcome(draft_id, "approved", why), None
        outcomes.append(outcome)
        if result is not None and (result.about_the_server or result.outcome == "unknown"):
            unusable = f"{result.detail} (with {draft_id})"  # the next would meet it too
    return outcomes


def _left_sending(store: Store, outbox: Path | None, draft_id: str, run_id: str | None) -> Outcome:
    """A draft an earlier delivery left `sending`: delivered if its outbox file proves it,
    else unknown. Nothing is sent."""
    with store.transaction() as con:
        draft = drafts.get(con, draft_id)
        if draft["status"] != "sending":
            return Outcome(draft_id, draft["status"], "decided meanwhile; nothing was sent")
        path = (
            outbox / f"{draft_id}.eml" if outbox and drafts.DRAFT_ID.fullmatch(draft_id) else None
        )
        if path is not None and path.exists() and _holds(path, draft["approved_sha256"]):
            details = {"channel": "outbox", "file": path.name, "run_id": run_id, "found": True}
            drafts.mark_delivered(con, draft_id, draft["recipient"], details)
            return Outcome(draft_id, "delivered", f"{path.name} (found in place)")
    why = f"{draft['reason'] or 'no answer was recorded'}; this delivery sent nothing"
    return Outcome(draft_id, "sending", _unknown(draft_id, why))


def _unknown(draft_id: str, why: str) -> str:
    return (
        f"{why}. Once you have checked: "
        f"`hub deliver --resend {draft_id} --by NAME` sends it once more, "
        f"`hub deliver --arrived {draft_id} --by NAME` records that it arrived"
    )


def _deliver_one(
    config: HubConfig, store: Store, outbox: Path | None, draft_id: str, run_id: str | None
) -> tuple[Outcome, SendResult | None]:
    ready = _commit_sending(config, store, outbox, draft_id, run_id)
    if isinstance(ready, Outcome):
        return ready, None
    if outbox is not None:
        result = _write_to_outbox(outbox / f"{draft_id}.eml", ready)
    else:
        smtp_settings = config.delivery.smtp
        result = smtp.send(smtp_settings, config.delivery.sender, ready.address, ready.message)
    try:
        return _record(store, ready, result, run_id), result
    except (OSError, StoreError, duckdb.Error) as exc:  # it stays `sending`: unknown
        why = f"{result.outcome} ({result.detail}), but that could not be recorded: {exc}"
        return Outcome(draft_id, "sending", _unknown(draft_id, scrub(why))), result


def _commit_sending(
    config: HubConfig, store: Store, outbox: Path | None, draft_id: str, run_id: str | None
) -> _Ready | Outcome:
    """Step 1: the checks, then `sending`, committed; or the outcome that stops it here."""
    with store.transaction() as con:
        draft = drafts.get(con, draft_id)
        if draft["status"] != "approved":  # another delivery (the sensor's) took it meanwhile
            why = f"no longer approved (now {draft['status']}); this delivery sent nothing"
            return Outcome(draft_id, draft["status"], why)
        outside = outbox is not None and (outbox / f"{draft_id}.eml").resolve().parent != outbox
        if not drafts.DRAFT_ID.fullmatch(draft_id) or outside:
            why = "its id is not a Groundwork draft id, so it cannot name a file; nothing was sent"
            drafts.mark_failed(con, draft_id, why, run_id)
            return Outcome(draft_id, "failed", why)
        address, problem = usable_address(recipient_of(con, config, draft["subject_id"]))
        if address is None:
            why = f"{problem}; nothing was sent. Fix the subject's e-mail, then draft again"
            drafts.mark_failed(con, draft_id, why, run_id)
            return Outcome(draft_id, "failed", why)
        if drafts.approval_digest(con, draft, address) != draft["approved_sha256"]:
            why = (
                "its recipient or content changed after it was approved; nothing was sent. "
                f"Read it again (`hub draft {draft_id}`) and approve it again"
            )
            drafts.void_approval(con, draft_id, why, run_id)
            return Outcome(draft_id, "pending", why)
        try:
            attachments = _attachments(con, config, draft, address)
            message = _message(config.delivery.sender, address, draft, attachments)
        except ValueError as exc:  # a header the e-mail library refuses to write
            why = scrub(f"the message cannot be written ({exc}); nothing was sent")
            drafts.mark_failed(con, draft_id, why, run_id)
            return Outcome(draft_id, "failed", why)
        try:
            _before_sending(con, config, draft, run_id)
        except actions.ActionError as exc:  # all or nothing: no e-mail without its task
            why = f"nothing was sent: {exc}"
            drafts.mark_not_sent(con, draft_id, why, run_id)
            return Outcome(draft_id, "approved", why)
        smtp_settings = config.delivery.smtp
        channel = f"smtp {smtp_settings.server}" if smtp_settings else "outbox"
        drafts.mark_sending(con, draft_id, channel, run_id)
        # the message names the trail's head, its own `draft.sending` record (audit.verify)
        seq, digest = audit_head(con) or (0, "")
        message["X-Groundwork-Audit-Head"] = f"{seq}:{digest}"
        return _Ready(draft_id, channel, address, draft["approved_sha256"], bytes(message))


def _before_sending(
    con: duckdb.DuckDBPyConnection, config: HubConfig, draft: dict, run_id: str | None
) -> None:
    """The draft's approved CRM tasks, written back before it is committed `sending`, in
    the same store transaction that records them done. `actions.ActionError` when they
    cannot be written and `delivery.on_action_failure` is `hold` (nothing is sent); with
    `send` they are recorded failed and the message goes out."""
    tasks = [a for a in actions.approved_actions(con, draft["draft_id"]) if a.kind == "task"]
    if not tasks:
        return
    try:
        written = actions.write_tasks(config, con, draft["subject_id"], tasks)
    except actions.ActionError as exc:
        if config.delivery.on_action_failure == "hold":
            raise
        for task in tasks:
            actions.mark_failed(con, task, f"{exc} (the e-mail was sent without it)")
        return
    for task in tasks:
        already = task.action_id not in written  # an earlier attempt wrote it, then died
        details = {"table": config.delivery.tasks.table, "already_there": already}
        actions.mark_done(con, task, {**details, "run_id": run_id})


def _attachments(
    con: duckdb.DuckDBPyConnection, config: HubConfig, draft: dict, address: str
) -> list[tuple[str, str, bytes]]:
    """Files sent with a draft's message, as (file name, MIME type, content): an iCalendar
    invitation per approved meeting (recorded done once the message is delivered)."""
    return [
        (
            f"{meeting.action_id}.ics",
            "text/calendar",
            actions.invitation(meeting, organizer=config.delivery.sender, attendee=address),
        )
        for meeting in actions.approved_actions(con, draft["draft_id"])
        if meeting.kind == "meeting"
    ]


def _record(store: Store, ready: _Ready, result: SendResult, run_id: str | None) -> Outcome:
    """Step 3: what the channel answered, in the draft's status and the audit trail."""
    draft_id = ready.draft_id
    with store.transaction() as con:
        if result.outcome == "sent":
            said = (
                {"file": result.detail} if ready.channel == "outbox" else {"reply": result.detail}
            )
            details = {"channel": ready.channel, **said, "run_id": run_id}
            if ready.channel != "outbox":
                details["attempts"] = result.attempts
            drafts.mark_delivered(con, draft_id, ready.address, details)
            for meeting in actions.approved_actions(con, draft_id):  # sent with the message
                if meeting.kind == "meeting":
                    actions.mark_done(con, meeting, {"sent_with": draft_id, "run_id": run_id})
            return Outcome(draft_id, "delivered", result.detail)
        if result.outcome == "refused" and result.permanent:
            why = f"{result.detail}; nothing was sent"
            drafts.mark_failed(con, draft_id, why, run_id)
            return Outcome(draft_id, "failed", why)
        if result.outcome == "refused":
            why = f"nothing was sent: {result.detail}. The next delivery tries again"
            drafts.mark_not_sent(con, draft_id, why, run_id)
            return Outcome(draft_id, "approved", why)
        drafts.mark_unknown(con, draft_id, result.detail, run_id)
    return Outcome(draft_id, "sending", _unknown(draft_id, result.detail))


def _message(
    sender: str, to: str, draft: dict, attachments: Sequence[tuple[str, str, bytes]] = ()
) -> EmailMessage:
    """The message of an approved draft, with `attachments` as (file name, MIME type,
    content). Its Message-ID is one per approval: a resend carries the same."""
    domain = parseaddr(sender)[1].rpartition("@")[2] or "groundwork.local"
    message = EmailMessage(policy=HEADERS_ON_ONE_LINE)
    message["From"] = sender
    message["To"] = to
    message["Subject"] = " ".join(str(draft["title"]).split())  # a header holds one line
    message["Date"] = formatdate(localtime=False)
    message["Message-ID"] = f"<{draft['draft_id']}.{draft['approved_sha256'][:16]}@{domain}>"
    message["X-Groundwork-Draft"] = draft["draft_id"]
    message[CONTENT_HEADER] = draft["approved_sha256"]
    message.set_content(draft["body"])
    for filename, mime_type, content in attachments:
        maintype, _, subtype = mime_type.partition("/")
        message.add_attachment(content, maintype=maintype, subtype=subtype, filename=filename)
    return message


def _write_to_outbox(path: Path, ready: _Ready) -> SendResult:
    """Write the whole file under a temporary name, then link it into place: the outbox never
    holds a partial message, and a second delivery of the same draft writes nothing. Refused
    for good when the name is taken by a message of other content (not this approval's)."""
    try:
        if write_new_file(path, ready.message) or _holds(path, ready.approved_sha256):
            return SendResult("sent", path.name, "write")
    except OSError as exc:
        return SendResult("refused", f"the outbox file cannot be written ({exc})", "write")
    why = "the outbox holds another message under this draft's name"
    return SendResult("refused", why, "write", permanent=True)


def _holds(path: Path, approved_sha256: str) -> bool:
    """The outbox file is this approval's message."""
    with path.open("rb") as existing:
        found = BytesHeaderParser(policy=HEADERS_ON_ONE_LINE).parse(existing)
    return found.get(CONTENT_HEADER) == approved_sha256
