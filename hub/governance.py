"""Governance: publish `serve` products with each PII class transformed per audience.

Policies come from `governance.policies` in hub.yaml (`clear`, `mask`, `hash`, `redact`).
Products for the `agent` audience are also copied into a separate DuckDB file that agents
open read-only with external access disabled: an agent never sees raw data or clear PII.
"""

from __future__ import annotations

import os
import uuid
from pathlib import Path

import duckdb

from hub.config import HubConfig, ProductConfig
from hub.store import quote_ident, quote_literal, table_exists, table_ref

_MASKS = {
    "email": "regexp_replace(CAST({c} AS VARCHAR), '^(.)[^@]*@', '\\1***@')",
    "phone": "'***' || right(CAST({c} AS VARCHAR), 4)",
}
COPY_BATCHES = "_hub_batches"
"Table of the agent copy naming the serve batch each product was copied from."
_DEFAULT_MASK = "left(CAST({c} AS VARCHAR), 1) || '***'"


def masked(column: str, pii: str | None, policy: str) -> str:
    """SQL for one column of a product as the audience may see it."""
    c = quote_ident(column)
    if pii is None or policy == "clear":
        return c
    if policy == "redact":
        return f"CAST(NULL AS VARCHAR) AS {c}"
    if policy == "hash":
        return f"left(sha256(CAST({c} AS VARCHAR)), 16) AS {c}"
    return f"{_MASKS.get(pii, _DEFAULT_MASK).format(c=c)} AS {c}"


def publish(con: duckdb.DuckDBPyConnection, config: HubConfig, name: str) -> int:
    """(Re)build `serve.<name>`; returns its row count. Call inside a transaction."""
    product = config.serve[name]
    columns = [row[0] for row in con.execute(f"DESCRIBE {product.sql}").fetchall()]
    policies = config.governance.policies.get(product.audience, {})
    selects = []
    for column in columns:
        pii = product.columns[column].pii if column in product.columns else None
        selects.append(masked(column, pii, policies.get(pii or "", "mask")))
    con.execute(
        f"CREATE OR REPLACE TABLE {table_ref('serve', name)} AS "
        f"SELECT {', '.join(selects)} FROM ({product.sql})"
    )
    return con.execute(f"SELECT count(*) FROM {table_ref('serve', name)}").fetchone()[0]


def pii_columns(product: ProductConfig) -> dict[str, str]:
    return {c: spec.pii for c, spec in product.columns.items() if spec.pii}


def publish_agent_copy(con: duckdb.DuckDBPyConnection, config: HubConfig) -> Path:
    """Write the agent audience's products to their own file, swapped in atomically."""
    target = config.resolve(config.store.agent_path)
    target.parent.mkdir(parents=True, exist_ok=True)
    staging = target.with_name(f"{target.name}.{uuid.uuid4().hex[:8]}.staging")
    con.execute(f"ATTACH {quote_literal(str(staging))} AS agent_copy")
    try:
        copied = []
        for name, product in config.serve.items():
            if product.audience == "agent" and table_exists(con, "serve", name):
                con.execute(
                    f"CREATE TABLE agent_copy.main.{quote_ident(name)} AS "
                    f"SELECT * FROM {table_ref('serve', name)}"
                )
                copied.append(f"serve.{name}")
        con.execute(
            f"CREATE TABLE agent_copy.main.{COPY_BATCHES} AS SELECT table_name, batch_id "
            "FROM meta.batches WHERE list_contains(?, table_name) "
            "QUALIFY row_number() OVER (PARTITION BY table_name ORDER BY seq DESC) = 1",
            [copied],
        )
    finally:
        con.execute("DETACH agent_copy")
    os.replace(staging, target)
    return target


def open_agent_sandbox(path: Path) -> duckdb.DuckDBPyConnection:
    """The agents' view of the store: read-only, no files, no network, settings locked."""
    con = duckdb.connect(":memory:")
    con.execute(f"ATTACH {quote_literal(str(path))} AS hub (READ_ONLY)")
    con.execute("USE hub")
    con.execute("SET enable_external_access = false")
    con.execute("SET lock_configuration = true")
    return con
