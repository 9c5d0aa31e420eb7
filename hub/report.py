"""What the store holds now: rows per table, rejects, checks, drafts and the gate."""

from __future__ import annotations

from dataclasses import dataclass

from hub import gate
from hub.config import HubConfig
from hub.store import Store


@dataclass
class Status:
    tables: list[tuple[str, int, int]]
    "(table, rows, rejected in its latest load)"
    checks_passed: int
    checks_failed: list[tuple[str, str, bool]]
    "(table, check, blocking) that failed or errored on their latest evaluation"
    drafts: dict[str, int]
    "status -> count"
    gates: list[gate.GateVerdict]


def status(config: HubConfig, store: Store) -> Status:
    with store.reader() as con:
        tables = con.execute(
            "SELECT table_name, arg_max(rows, loaded_at), arg_max(rejected, loaded_at) "
            "FROM meta.batches GROUP BY table_name ORDER BY table_name"
        ).fetchall()
        checks = con.execute(
            "SELECT table_name, check_name, passed, blocking FROM meta.check_results "
            "QUALIFY row_number() OVER (PARTITION BY table_name, check_name "
            "ORDER BY evaluated_at DESC) = 1 ORDER BY table_name, check_name"
        ).fetchall()
        drafts = dict(
            con.execute(
                "SELECT status, count(*) FROM agents.drafts WHERE status <> 'superseded' "
                "GROUP BY status ORDER BY status"
            ).fetchall()
        )
        gates = [gate.evaluate(con, config, name) for name in config.agents]
    return Status(
        tables=[(t, int(r), int(j)) for t, r, j in tables],
        checks_passed=sum(1 for c in checks if c[2]),
        checks_failed=[(t, n, bool(b)) for t, n, p, b in checks if not p],
        drafts=drafts,
        gates=gates,
    )
