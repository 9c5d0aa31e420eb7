"""The audit trail: `meta.audit_log`, append-only and hash-chained.

Each record carries the hash of the previous one, and its own hash covers every field, so
editing, inserting or deleting any record before the last one breaks the chain from there
on; `hub audit verify` finds it. (Records cut off the end leave a valid shorter chain: that
needs the head anchored outside the store, which is not built yet.)
Callers append inside the transaction that does the work, so the record and the change
land together. Details never hold secrets: connection strings are logged without passwords.
"""

from __future__ import annotations

import hashlib
import json
from dataclasses import dataclass
from typing import Any

import duckdb

from hub.store import now

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
    last = con.execute("SELECT seq, hash FROM meta.audit_log ORDER BY seq DESC LIMIT 1").fetchone()
    seq, prev_hash = (last[0] + 1, last[1]) if last else (1, GENESIS)
    at = now().isoformat()
    body = json.dumps(details or {}, sort_keys=True, default=str)
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


def verify(con: duckdb.DuckDBPyConnection) -> Verdict:
    """Walk the chain from the first record; report the first record that does not fit."""
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
    return Verdict(True, len(rows))


def _hash(seq: int, at: str, actor: str, action: str, target: str, body: str, prev: str) -> str:
    payload = json.dumps([seq, at, actor, action, target, body, prev], separators=(",", ":"))
    return hashlib.sha256(payload.encode()).hexdigest()
