"""Delivery: approved drafts leave the system as `.eml` files in the outbox, at most once.

The file is created exclusively (`<draft_id>.eml`), so a second delivery of the same draft
finds it there and writes nothing; the draft is then marked `delivered` with the recipient,
and the audit trail records it. Nothing that is not `approved` is ever picked up. The real
address comes from the unified store (agents only ever saw it masked).
"""

from __future__ import annotations

from dataclasses import dataclass
from email.message import EmailMessage
from email.utils import formatdate, make_msgid
from pathlib import Path

from hub import audit
from hub.config import HubConfig
from hub.store import Store, now, quote_ident, split_ref, table_ref


class DeliveryError(Exception):
    """An approved draft cannot be delivered; it stays approved and nothing is sent."""


@dataclass(frozen=True)
class Delivered:
    draft_id: str
    recipient: str
    path: Path


def approved_undelivered(store: Store) -> list[str]:
    with store.reader() as con:
        return [
            r[0]
            for r in con.execute(
                "SELECT draft_id FROM agents.drafts WHERE status = 'approved' ORDER BY draft_id"
            ).fetchall()
        ]


def deliver_approved(config: HubConfig, store: Store, run_id: str | None = None) -> list[Delivered]:
    outbox = config.resolve(config.delivery.outbox)
    outbox.mkdir(parents=True, exist_ok=True)
    delivered = []
    with store.transaction() as con:
        schema, table = split_ref(config.delivery.recipients_from)
        address = quote_ident(config.delivery.recipient_column)
        key = quote_ident(config.delivery.recipient_key)
        pending = con.execute(
            f"SELECT d.draft_id, d.title, d.body, r.{address} "
            f"FROM agents.drafts d LEFT JOIN {table_ref(schema, table)} r "
            f"ON CAST(r.{key} AS VARCHAR) = d.subject_id "
            "WHERE d.status = 'approved' ORDER BY d.draft_id"
        ).fetchall()
        for draft_id, title, body, recipient in pending:
            if not recipient:
                raise DeliveryError(
                    f"draft {draft_id}: no address for its subject in "
                    f"{config.delivery.recipients_from}. Fix the subject's e-mail, then retry."
                )
            path = outbox / f"{draft_id}.eml"
            _write_once(path, config.delivery.sender, recipient, title, body, draft_id)
            con.execute(
                "UPDATE agents.drafts SET status = 'delivered', delivered_at = ?, "
                "delivered_to = ? WHERE draft_id = ? AND status = 'approved'",
                [now(), recipient, draft_id],
            )
            audit.append(
                con,
                actor="delivery",
                action="draft.deliver",
                target=draft_id,
                details={"channel": "outbox", "file": path.name, "run_id": run_id},
            )
            delivered.append(Delivered(draft_id, recipient, path))
    return delivered


def _write_once(path: Path, sender: str, to: str, subject: str, body: str, draft_id: str) -> None:
    message = EmailMessage()
    message["From"] = sender
    message["To"] = to
    message["Subject"] = subject
    message["Date"] = formatdate(localtime=False)
    message["Message-ID"] = make_msgid(idstring=draft_id)
    message["X-Groundwork-Draft"] = draft_id
    message.set_content(body)
    try:
        with path.open("xb") as handle:
            handle.write(bytes(message))
    except FileExistsError:
        return
