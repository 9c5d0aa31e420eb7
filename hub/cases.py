"""`agents.cases`: one onboarding case per signup, from the signup to the delivered welcome.

An agent with `signups:` drafts per client as each signs up. Every row of its signup table
(`crm__clients`) is a signup, keyed by the table's primary key (`C013`, also the client's
Dagster partition). The load of that table screens each row (`screen`, in the load's
transaction): a row without one usable address is kept out of the raw table, in
`rejects.<table>` with the reason, and its case is `blocked`; a valid row opens its case as
`drafting` (or unblocks it once the source was fixed). The agent's step for a partition then
ties the case to its subject (the row of the subjects product whose `subject_column` holds
the key): a second signup of a client that already has a case (unify matched it to the same
subject) becomes a `duplicate` of it, and gets no draft. Once drafted, the case is `drafted`
and follows its subject's draft: approved, rejected, delivered.

Every change of a case is audited in the transaction that makes it. The case's clock
(signup, draft, decision, delivery) comes from the case and its subject's live draft
(`clock`), so it can never disagree with `agents.drafts`.
"""

from __future__ import annotations

import json
from datetime import UTC, datetime
from typing import TYPE_CHECKING, Any

import duckdb

from connectors import Reject
from hub import audit
from hub.recipients import usable_address
from hub.store import now, quote_ident, table_exists

if TYPE_CHECKING:
    import pandas as pd

    from hub.config import AgentConfig, HubConfig

DDL = """
CREATE TABLE IF NOT EXISTS agents.cases (
    agent VARCHAR, signup_key VARCHAR, subject_id VARCHAR, status VARCHAR, reason VARCHAR,
    signed_up_at TIMESTAMPTZ, opened_at TIMESTAMPTZ, batches JSON, draft_id VARCHAR,
    drafted_at TIMESTAMPTZ, updated_at TIMESTAMPTZ, PRIMARY KEY (agent, signup_key));
"""
OPEN = ("drafting", "blocked", "drafted")
"Stored statuses of a case that is not a duplicate (a drafted one is open until delivered)."


def signup_agents(config: HubConfig, raw_name: str | None = None) -> dict[str, AgentConfig]:
    """The agents drafting per signup (those whose signups are rows of `raw.<raw_name>`)."""
    return {
        name: agent
        for name, agent in config.agents.items()
        if agent.signups and raw_name in (None, agent.signups.table)
    }


# --- at load: screening the signup rows ------------------------------------------------


def screen(
    con: duckdb.DuckDBPyConnection,
    config: HubConfig,
    raw_name: str,
    rows: str,
    batch_id: str,
    run_id: str | None,
) -> list[Reject]:
    """Screen the signup rows in `rows` (the load's staged rows or new table), inside the
    load's transaction: a row without one usable address is deleted from `rows` and
    returned as a reject, its case blocked; every other row's case is opened or unblocked."""
    agents = signup_agents(config, raw_name)
    if not agents:
        return []
    source, _, table = raw_name.partition("__")
    key = config.sources[source].tables[table].primary_key[0]
    rejects: list[Reject] = []
    refused: set[str] = set()
    for name, agent in agents.items():
        signups = agent.signups
        when = quote_ident(signups.signed_up_at) if signups.signed_up_at else "NULL"
        found = con.execute(
            f"SELECT CAST({quote_ident(key)} AS VARCHAR), {quote_ident(signups.email)}, "
            f"TRY_CAST({when} AS TIMESTAMPTZ), CAST(to_json(r) AS VARCHAR) "
            f"FROM {rows} r WHERE {quote_ident(key)} IS NOT NULL"
        ).fetchall()
        for signup_key, email, signed_up_at, record in found:
            _, problem = usable_address(email)
            if problem:
                reason = f"signup {signup_key} blocked: {problem}"
                fix = (
                    f"Fix: correct `{signups.email}` of {signup_key} in {source}; "
                    "the next load takes it"
                )
                if signup_key not in refused:  # the whole row, for the steward to fix
                    where = f"{key}={signup_key}"
                    rejects.append(Reject(where, f"{reason}. {fix}", record, column=signups.email))
                    refused.add(signup_key)
                _block(con, name, signup_key, reason, signed_up_at, batch_id, run_id)
            else:
                _open(con, name, signup_key, signed_up_at, batch_id, run_id)
    if refused:
        con.execute(
            f"DELETE FROM {rows} WHERE list_contains(?, CAST({quote_ident(key)} AS VARCHAR))",
            [sorted(refused)],
        )
    return rejects


def _block(
    con: duckdb.DuckDBPyConnection,
    agent: str,
    key: str,
    reason: str,
    signed_up_at: datetime | None,
    batch_id: str,
    run_id: str | None,
) -> None:
    case = _case(con, agent, key)
    if case and case["status"] == "blocked" and case["reason"] == reason:
        return
    if case and case["status"] == "duplicate":
        return  # its client's case is another one's
    _upsert(con, agent, key, "blocked", reason, signed_up_at, batch_id)
    audit.append(
        con,
        actor="loader",
        action="case.blocked",
        target=f"{agent}:{key}",
        details={"reason": reason, "batch_id": batch_id, "run_id": run_id},
    )


def _open(
    con: duckdb.DuckDBPyConnection,
    agent: str,
    key: str,
    signed_up_at: datetime | None,
    batch_id: str,
    run_id: str | None,
) -> None:
    case = _case(con, agent, key)
    if case and case["status"] != "blocked":
        return
    _upsert(con, agent, key, "drafting", None, signed_up_at, batch_id)
    action = "case.unblocked" if case else "case.open"
    details = {"batch_id": batch_id, "run_id": run_id}
    audit.append(con, actor="loader", action=action, target=f"{agent}:{key}", details=details)


def _upsert(
    con: duckdb.DuckDBPyConnection,
    agent: str,
    key: str,
    status: str,
    reason: str | None,
    signed_up_at: datetime | None,
    batch_id: str,
) -> None:
    stamp = now()
    con.execute(
        "INSERT INTO agents.cases (agent, signup_key, status, reason, signed_up_at, opened_at, "
        "batches, updated_at) VALUES (?, ?, ?, ?, ?, ?, ?, ?) ON CONFLICT (agent, signup_key) "
        "DO UPDATE SET status = excluded.status, reason = excluded.reason, "
        "batches = excluded.batches, updated_at = excluded.updated_at",
        [agent, key, status, reason, signed_up_at or stamp, stamp, json.dumps([batch_id]), stamp],
    )


def _case(con: duckdb.DuckDBPyConnection, agent: str, key: str) -> dict[str, Any] | None:
    cursor = con.execute(
        "SELECT * FROM agents.cases WHERE agent = ? AND signup_key = ?", [agent, key]
    )
    row = cursor.fetchone()
    return dict(zip([d[0] for d in cursor.description], row, strict=True)) if row else None


# --- at the agent's step: which signups get a draft ------------------------------------


def subjects_for(
    con: duckdb.DuckDBPyConnection, config: HubConfig, agent: str, keys: list[str]
) -> tuple[dict[str, str], dict[str, str]]:
    """For the signups `keys` of a partitioned run: (key -> its subject, for the clients to
    draft for; key -> why not, for the others). A second signup of a subject that has a
    case already is marked its `duplicate` here (in the caller's transaction)."""
    spec = config.agents[agent]
    signups = spec.signups
    subjects = dict(
        con.execute(
            f"SELECT CAST({quote_ident(signups.subject_column)} AS VARCHAR), "
            f"CAST({quote_ident(spec.subject_key)} AS VARCHAR) "
            f"FROM serve.{quote_ident(spec.subjects)} "
            f"WHERE list_contains(?, CAST({quote_ident(signups.subject_column)} AS VARCHAR))",
            [keys],
        ).fetchall()
    )
    ready: dict[str, str] = {}
    waiting: dict[str, str] = {}
    for key in keys:
        case = _case(con, agent, key)
        if case is None:
            waiting[key] = (
                f"no case for {key}: its row of raw.{signups.table} was never loaded. "
                f"Fix: materialize raw/{signups.table} (`hub run`)"
            )
        elif case["status"] in ("blocked", "duplicate"):
            waiting[key] = case["reason"]
        elif case["draft_id"] is None and (
            first := _earlier_signup_of_same_client(con, config, agent, case)
        ):
            why = f"signup {key} is the same client as {first} (matched by unify); one case"
            _mark_duplicate(con, agent, key, why)
            waiting[key] = why
        elif key not in subjects:
            waiting[key] = (
                f"{key} is not in serve.{spec.subjects} yet (its data is loaded but not yet "
                f"unified and published). Fix: run `hub run`"
            )
        else:
            ready[key] = subjects[key]
    return ready, waiting


def _earlier_signup_of_same_client(
    con: duckdb.DuckDBPyConnection, config: HubConfig, agent: str, case: dict[str, Any]
) -> str | None:
    """Another signup whose row unify matched to the same entity as this case's, with a case
    of its own opened earlier: the client signed up twice."""
    key = case["signup_key"]
    table = config.agents[agent].signups.table
    for entity, spec in config.entities.items():
        if table not in [s.table for s in spec.sources]:
            continue
        xref, same = f"unified.{quote_ident(entity + '_xref')}", quote_ident(f"{entity}_id")
        row = con.execute(
            f"SELECT c.signup_key FROM {xref} mine JOIN {xref} other "
            f"ON other.{same} = mine.{same} AND other.source = mine.source "
            "JOIN agents.cases c ON c.agent = ? AND c.signup_key = other.source_id "
            "WHERE mine.source = ? AND mine.source_id = ? AND other.source_id <> ? "
            "AND c.status <> 'duplicate' AND (c.opened_at, c.signup_key) < (?, ?) "
            "ORDER BY c.opened_at, c.signup_key LIMIT 1",
            [agent, table, key, key, case["opened_at"], key],
        ).fetchone()
        if row:
            return row[0]
    return None


def _mark_duplicate(con: duckdb.DuckDBPyConnection, agent: str, key: str, why: str) -> None:
    con.execute(
        "UPDATE agents.cases SET status = 'duplicate', reason = ?, updated_at = ? "
        "WHERE agent = ? AND signup_key = ?",
        [why, now(), agent, key],
    )
    audit.append(
        con,
        actor=f"agent:{agent}",
        action="case.duplicate",
        target=f"{agent}:{key}",
        details={"reason": why},
    )


def mark_drafted(
    con: duckdb.DuckDBPyConnection,
    agent: str,
    drafted: dict[str, tuple[str, str]],
    batches: dict[str, str | None],
    run_id: str | None,
) -> None:
    """key -> (subject, its live draft): the cases are `drafted`, with the batches the gate
    proved for the draft. A case already on that draft is left as it is."""
    for key, (subject_id, draft_id) in drafted.items():
        case = _case(con, agent, key)
        if case is None or (case["status"] == "drafted" and case["draft_id"] == draft_id):
            continue
        con.execute(
            "UPDATE agents.cases SET status = 'drafted', reason = NULL, subject_id = ?, "
            "draft_id = ?, drafted_at = coalesce(drafted_at, ?), batches = ?, updated_at = ? "
            "WHERE agent = ? AND signup_key = ?",
            [subject_id, draft_id, now(), json.dumps(batches), now(), agent, key],
        )
        audit.append(
            con,
            actor=f"agent:{agent}",
            action="case.drafted",
            target=f"{agent}:{key}",
            details={"subject_id": subject_id, "draft_id": draft_id, "run_id": run_id},
        )


# --- reading: the cases and their clock ------------------------------------------------

_CLOCK = """
WITH live AS (
    SELECT agent, subject_id, subject_name, draft_id, status, decided_at, delivered_at
    FROM agents.drafts WHERE status <> 'superseded'
    QUALIFY row_number() OVER (PARTITION BY agent, subject_id ORDER BY created_at DESC) = 1)
SELECT c.agent, c.signup_key, c.subject_id,
    CASE WHEN c.status = 'drafted' THEN coalesce(
        CASE d.status WHEN 'pending' THEN 'awaiting approval' ELSE d.status END, 'drafted')
        ELSE c.status END AS status,
    c.reason, c.signed_up_at, c.drafted_at, d.decided_at, d.delivered_at, d.draft_id,
    d.subject_name
FROM agents.cases c LEFT JOIN live d ON d.agent = c.agent AND d.subject_id = c.subject_id
"""
CLOSED = ("delivered", "duplicate")


def clock(con: duckdb.DuckDBPyConnection, agent: str | None = None) -> pd.DataFrame:
    """Every case with its live status and its clock: signed up, drafted, decided,
    delivered; `age` is how long an open case has been open (to now); `subject_name` is
    its live draft's."""
    frame = con.execute(
        f"SELECT * FROM ({_CLOCK}) WHERE ? IS NULL OR agent = ? ORDER BY signed_up_at, signup_key",
        [agent, agent],
    ).df()
    frame["age"] = [
        None if status in CLOSED else datetime.now(UTC) - signed
        for status, signed in zip(frame["status"], frame["signed_up_at"], strict=True)
    ]
    return frame


def clock_metadata(con: duckdb.DuckDBPyConnection, agent: str) -> dict[str, float | int]:
    """What the agent asset reports after each run (and observes after each delivery), so
    the Dagster UI plots it: open cases, and the median hours from signup to draft, from
    draft to decision and from decision to delivery."""
    row = con.execute(
        f"SELECT count(*) FILTER (WHERE status NOT IN {CLOSED}), "
        "median(epoch(drafted_at - signed_up_at)) / 3600, "
        "median(epoch(decided_at - drafted_at)) / 3600, "
        "median(epoch(delivered_at - decided_at)) / 3600 "
        f"FROM ({_CLOCK}) WHERE agent = ?",
        [agent],
    ).fetchone()
    found: dict[str, float | int] = {"cases_open": int(row[0] or 0)}
    names = ("hours_to_draft_median", "hours_to_decision_median", "hours_to_delivery_median")
    for name, value in zip(names, row[1:], strict=True):
        if value is not None:
            found[name] = round(float(value), 3)
    return found


def live_drafts(con: duckdb.DuckDBPyConnection, agent: str, subjects: set[str]) -> dict[str, str]:
    """subject -> its latest draft that is not superseded (whatever its status)."""
    return dict(
        con.execute(
            "SELECT subject_id, draft_id FROM agents.drafts WHERE agent = ? "
            "AND list_contains(?, subject_id) AND status <> 'superseded' QUALIFY row_number() "
            "OVER (PARTITION BY subject_id ORDER BY created_at DESC, draft_id DESC) = 1",
            [agent, sorted(subjects)],
        ).fetchall()
    )


def case_metadata(con: duckdb.DuckDBPyConnection, agent: str, key: str) -> dict[str, Any]:
    """One client's case as its partition reports it: status, signup time, hours to draft."""
    row = con.execute(
        f"SELECT status, signed_up_at, epoch(drafted_at - signed_up_at) / 3600 FROM ({_CLOCK}) "
        "WHERE agent = ? AND signup_key = ?",
        [agent, key],
    ).fetchone()
    if row is None:
        return {}
    found: dict[str, Any] = {"case_status": row[0], "signed_up_at": str(row[1])}
    if row[2] is not None:
        found["hours_signup_to_draft"] = round(float(row[2]), 3)
    return found


def states(con: duckdb.DuckDBPyConnection, agent: str) -> dict[str, tuple[str, str]]:
    """key -> (stored status, when the case last changed) of the agent's cases; {} on a
    store from before cases."""
    if not table_exists(con, "agents", "cases"):
        return {}
    rows = con.execute(
        "SELECT signup_key, status, strftime(updated_at, '%Y%m%dT%H%M%S.%f') "
        "FROM agents.cases WHERE agent = ?",
        [agent],
    ).fetchall()
    return {key: (status, since) for key, status, since in rows}
