"""The human at the exit: list drafts, approve or reject them, each decision audited.

Only a `pending` draft can be decided. Approval does not send anything: delivery picks up
approved drafts on its own (the Dagster sensor, or `hub deliver`).
"""

from __future__ import annotations

import pandas as pd

from hub import audit
from hub.store import Store, now


class DraftError(Exception):
    """The draft does not exist or is not in a state that allows the action."""


def list_drafts(store: Store, status: str | None = None) -> pd.DataFrame:
    with store.reader() as con:
        return con.execute(
            "SELECT draft_id, agent, subject_name, status, title, mode, created_at, decided_by "
            "FROM agents.drafts WHERE status <> 'superseded' AND (? IS NULL OR status = ?) "
            "ORDER BY created_at, draft_id",
            [status, status],
        ).df()


def approve(store: Store, draft_id: str, by: str) -> None:
    _decide(store, draft_id, by, "approved", "draft.approve", reason=None)


def reject(store: Store, draft_id: str, by: str, reason: str) -> None:
    if not reason.strip():
        raise DraftError("a rejection needs a reason: pass --reason TEXT.")
    _decide(store, draft_id, by, "rejected", "draft.reject", reason=reason)


def _decide(
    store: Store, draft_id: str, by: str, status: str, action: str, reason: str | None
) -> None:
    if not by.strip():
        raise DraftError("say who decides: pass --by NAME.")
    with store.transaction() as con:
        row = con.execute(
            "SELECT status FROM agents.drafts WHERE draft_id = ?", [draft_id]
        ).fetchone()
        if row is None:
            raise DraftError(f"no draft {draft_id}. See `hub drafts` for the ids.")
        if row[0] != "pending":
            raise DraftError(f"draft {draft_id} is {row[0]}; only pending drafts can be {status}.")
        con.execute(
            "UPDATE agents.drafts SET status = ?, decided_by = ?, decided_at = ?, reason = ? "
            "WHERE draft_id = ?",
            [status, by, now(), reason, draft_id],
        )
        audit.append(
            con,
            actor=f"human:{by}",
            action=action,
            target=draft_id,
            details={"reason": reason},
        )
