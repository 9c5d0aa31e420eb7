"""Delivery: approved drafts leave the system as `.eml` files in the outbox, at most once.

The file is created exclusively (`<draft_id>.eml`), so a second delivery of the same draft
finds it there and writes nothing; the draft is then marked `delivered` with the recipient,
and the audit trail records it. Nothing that is not `approved` is ever picked up. The real
address comes from the unified store (agents only ever saw it masked).
"""

from __future__ import annotations

import os
from dataclasses import dataclass
from email.message import EmailMessage
from email.utils import formatdate, make_msgid
from pathlib import Path

import duckdb

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
    """Deliver every approved draft, each in its own transaction; one that cannot be
    delivered stays approved and is reported after the others went out."""
    outbox = config.resolve(config.delivery.outbox)
    outbox.mkdir(parents=True, exist_ok=True)
    delivered, problems = [], []
    for draft_id in approved_undelivered(store):
        try:
            delivered.append(_deliver_one(config, store, outbox, draft_id, run_id))
        except DeliveryError as exc:
            problems.append(str(exc))
    if problems:
        raise DeliveryError("; ".join(problems))
    return delivered


def _deliver_one(
    config: HubConfig, store: Store, outbox: Path, draft_id: str, run_id: str | None
) -> Delivered:
    with store.transaction() as con:
        row = con.execute(
            "SELECT title, body FROM agents.drafts WHERE draft_id = ? AND status = 'approved'",
            [draft_id],
        ).fetchone()
        if row is None:
            raise DeliveryError(f"draft {draft_id} is no longer approved; nothing was sent")
        title, body = row
        recipient = recipient_of(con, config, draft_id)
        if not recipient:
            raise DeliveryError(
                f"draft {draft_id}: no address for its subject in "
                f"{config.delivery.recipients_from}; fix the subject's e-mail, then deliver again"
            )
        message = _message(config.delivery.sender, recipient, title, body, draft_id)
        path = outbox / f"{draft_id}.eml"
        _write_once(path, message)
        con.execute(
            "UPDATE agents.drafts SET status = 'delivered', delivered_at = ?, delivered_to = ? "
            "WHERE draft_id = ?",
            [now(), recipient, draft_id],
        )
        audit.append(
            con,
            actor="delivery",
            action="draft.deliver",
            target=draft_id,
            details={"channel": "outbox", "file": path.name, "run_id": run_id},
        )
    return Delivered(draft_id, recipient, path)


def recipient_of(con: duckdb.DuckDBPyConnection, config: HubConfig, draft_id: str) -> str | None:
    """The real address a draft goes to, from the unified store (agents only saw it masked)."""
    schema, table = split_ref(config.delivery.recipients_from)
    address = quote_ident(config.delivery.recipient_column)
    key = quote_ident(config.delivery.recipient_key)
    row = con.execute(
        f"SELECT r.{address} FROM agents.drafts d JOIN {table_ref(schema, table)} r "
        f"ON CAST(r.{key} AS VARCHAR) = d.subject_id WHERE d.draft_id = ?",
        [draft_id],
    ).fetchone()
    return row[0] if row else None


def _message(sender: str, to: str, subject: str, body: str, draft_id: str) -> bytes:
    message = EmailMessage()
    message["From"] = sender
    message["To"] = to
    message["Subject"] = " ".join(subject.split())  # a header holds one line
    message["Date"] = formatdate(localtime=False)
    message["Message-ID"] = make_msgid(idstring=draft_id)
    message["X-Groundwork-Draft"] = draft_id
    message.set_content(body)
    return bytes(message)


def _write_once(path: Path, message: bytes) -> None:
    """Write the whole file under a temporary name, then link it into place: the outbox
    never holds a partial message, and a second delivery of the same draft writes nothing."""
    staging = path.with_name(f".{path.name}.{os.getpid()}.tmp")
    staging.write_bytes(message)
    try:
        os.link(staging, path)
    except FileExistsError:
        pass
    finally:
        staging.unlink()
