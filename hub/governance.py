"""Governance: who reads what, masked how.

`serve.<product>` tables in the store hold the products as their SQL computes them; the
store is the steward's, who reads everything in clear. Every other audience reads its own
published copy, a separate DuckDB file with each PII column transformed by that audience's
policy (`hub.masking`): it cannot query around the masking, because the clear data is not
in its file. Audiences are ordered `agent` < `analyst` < `steward`:
- `agent` (`store.agent_path`): the products for agents, in the `main` schema, plus the
  batches they were copied from (the foundation gate checks those); written by the serve
  assets.
- `analyst` (`store.analyst_path`): `unified.*`, the `serve.*` products for agents and
  analysts, `meta.check_results` and `meta.batches`; republished on read whenever the store
  has changed since (its audit head moved).
A column is PII if `hub.yaml` says so where it is declared, or, for a product, if an input
table of the product declares a column of the same name.
"""

from __future__ import annotations

import json
import os
import uuid
from pathlib import Path

import duckdb

from hub.config import AUDIENCES, HubConfig
from hub.masking import define_hash, hash_salt, mask_values, masked_select
from hub.store import Store, StoreError, quote_ident, quote_literal, table_exists, table_ref

COPY_BATCHES = "_hub_batches"
"Table of the agent copy naming the serve batch each product was copied from."
COPY_INFO = "_hub_copy"
"Table of every copy naming the audit head of the store it was published from."


def pii_of(config: HubConfig, ref: str) -> dict[str, str]:
    """column -> PII class of one table (`raw.crm__clients`, `unified.customer`, ...)."""
    layer, _, name = ref.partition(".")
    if layer in ("raw", "rejects"):
        source, _, table = name.partition("__")
        tables = config.sources[source].tables if source in config.sources else {}
        columns = tables[table].columns if table in tables else {}
        return {c: spec.pii for c, spec in columns.items() if spec.pii}
    if layer == "unified" and name in config.entities:
        return {f: spec.pii for f, spec in config.entities[name].fields.items() if spec.pii}
    if layer == "serve" and name in config.serve:
        product = config.serve[name]
        inherited: dict[str, str] = {}
        for source in product.inputs:
            inherited |= pii_of(config, source)
        declared = {c: spec.pii for c, spec in product.columns.items() if spec.pii}
        return inherited | declared
    return {}


def policies_for(config: HubConfig, audience: str) -> dict[str, str]:
    return {} if audience == "steward" else dict(config.governance.policies.get(audience, {}))


def salt(config: HubConfig) -> str:
    return hash_salt(config.governance.hash_salt, config.resolve(config.store.path))


def masked_columns(
    con: duckdb.DuckDBPyConnection, config: HubConfig, ref: str, audience: str
) -> str:
    """The SELECT list of `ref` as `audience` sees it; defines `hub_hash` on `con`."""
    define_hash(con, salt(config))
    columns = [row[0] for row in con.execute(f"DESCRIBE {_ref_sql(ref)}").fetchall()]
    return masked_select(columns, pii_of(config, ref), policies_for(config, audience))


def mask_check_details(
    config: HubConfig, ref: str, kwargs: dict, details: dict[str, object]
) -> dict[str, object]:
    """A check's result details as the analyst audience may see them: samples and observed
    values of a PII column masked; reject reasons (which quote values) cut to their kind
    when the table has PII columns. Dagster and `meta.check_results` both get this."""
    pii = pii_of(config, ref)
    columns = [kwargs.get(k) for k in ("column", "column_A", "column_B")]
    columns += list(kwargs.get("column_list") or [])
    classes = [pii[c] for c in columns if isinstance(c, str) and c in pii]
    shown = dict(details)
    if classes:
        policy = policies_for(config, "analyst")[classes[0]]
        for key in ("unexpected_sample", "observed_value"):
            value = shown.get(key)
            if isinstance(value, list):
                shown[key] = mask_values(value, classes[0], policy, salt(config))
            elif isinstance(value, str):
                shown[key] = mask_values([value], classes[0], policy, salt(config))[0]
    if pii and isinstance(shown.get("reject_sample"), list):
        shown["reject_sample"] = [
            str(r).partition(": ")[0] + ": (reason withheld: the table has PII; read "
            f"rejects.{ref.partition('.')[2]} as steward)"
            for r in shown["reject_sample"]
        ]
    return shown


def publish(con: duckdb.DuckDBPyConnection, config: HubConfig, name: str) -> int:
    """(Re)build `serve.<name>` from its SQL; returns its row count. Call in a transaction."""
    con.execute(f"CREATE OR REPLACE TABLE {table_ref('serve', name)} AS {config.serve[name].sql}")
    return con.execute(f"SELECT count(*) FROM {table_ref('serve', name)}").fetchone()[0]


def readable_by(config: HubConfig, audience: str) -> list[str]:
    """The serve products an audience may read: those for it and for less privileged ones."""
    rank = AUDIENCES.index(audience)
    return [n for n, p in config.serve.items() if AUDIENCES.index(p.audience) <= rank]


def publish_agent_copy(con: duckdb.DuckDBPyConnection, config: HubConfig) -> Path:
    """Write the agent audience's products, masked, to their own file, swapped in whole."""
    products = [n for n, p in config.serve.items() if p.audience == "agent"]
    tables = [("main", n, f"serve.{n}") for n in products]

    def batches(copy: str) -> None:
        con.execute(
            f"CREATE TABLE {copy}.main.{COPY_BATCHES} AS SELECT table_name, batch_id "
            "FROM meta.batches WHERE list_contains(?, table_name) "
            "QUALIFY row_number() OVER (PARTITION BY table_name ORDER BY seq DESC) = 1",
            [[ref for _, _, ref in tables if table_exists(con, *ref.split("."))]],
        )

    return _publish_copy(con, config, "agent", tables, batches)


def publish_analyst_copy(con: duckdb.DuckDBPyConnection, config: HubConfig) -> Path:
    tables = [("unified", e, f"unified.{e}") for e in config.entities]
    tables += [("unified", f"{e}_xref", f"unified.{e}_xref") for e in config.entities]
    tables += [("serve", n, f"serve.{n}") for n in readable_by(config, "analyst")]
    tables += [("meta", t, f"meta.{t}") for t in ("check_results", "batches")]
    return _publish_copy(con, config, "analyst", tables)


def copy_path(config: HubConfig, audience: str) -> Path:
    if audience == "steward":
        return config.resolve(config.store.path)
    return config.resolve(getattr(config.store, f"{audience}_path"))


def reader_path(config: HubConfig, store: Store, audience: str) -> Path:
    """The file `audience` reads: the store for the steward, else its copy, republished
    first (analyst) when the store changed since it was written."""
    path = copy_path(config, audience)
    if not store.path.exists():
        raise StoreError(f"no store at {store.path} yet. Fix: run `hub demo` (or `hub run`).")
    if audience == "analyst" and _copy_head(path) != _store_head(store):
        with store.reader() as con:
            publish_analyst_copy(con, config)
    if not path.exists():
        raise StoreError(
            f"no copy for the {audience} audience at {path} yet. Fix: run `hub run` so the "
            "serve products are published."
        )
    return path


def _publish_copy(
    con: duckdb.DuckDBPyConnection,
    config: HubConfig,
    audience: str,
    tables: list[tuple[str, str, str]],
    extra=None,  # noqa: ANN001 - callable(copy alias) adding audience-specific tables
) -> Path:
    target = copy_path(config, audience)
    target.parent.mkdir(parents=True, exist_ok=True)
    staging = target.with_name(f"{target.name}.{uuid.uuid4().hex[:8]}.staging")
    copy = f"hub_copy_{uuid.uuid4().hex[:8]}"
    con.execute(f"ATTACH {quote_literal(str(staging))} AS {copy} (READ_WRITE)")
    try:
        _fill_copy(con, config, audience, copy, tables, extra)
    except BaseException:
        con.execute(f"DETACH {copy}")
        staging.unlink(missing_ok=True)
        raise
    con.execute(f"DETACH {copy}")
    os.replace(staging, target)
    return target


def _fill_copy(con, config, audience, copy, tables, extra) -> None:  # noqa: ANN001
    for schema, name, ref in tables:
        if not table_exists(con, *ref.split(".")):
            continue
        con.execute(f"CREATE SCHEMA IF NOT EXISTS {copy}.{quote_ident(schema)}")
        con.execute(
            f"CREATE TABLE {copy}.{quote_ident(schema)}.{quote_ident(name)} AS "
            f"SELECT {masked_columns(con, config, ref, audience)} FROM {_ref_sql(ref)}"
        )
    if extra:
        extra(copy)
    con.execute(
        f"CREATE TABLE {copy}.main.{COPY_INFO} AS SELECT ? AS audience, ? AS audit_head",
        [audience, _store_head_of(con)],
    )


def _ref_sql(ref: str) -> str:
    schema, _, name = ref.partition(".")
    return table_ref(schema, name)


def _store_head_of(con: duckdb.DuckDBPyConnection) -> str | None:
    row = con.execute("SELECT seq, hash FROM meta.audit_log ORDER BY seq DESC LIMIT 1").fetchone()
    return json.dumps({"seq": row[0], "hash": row[1]}) if row else None


def _store_head(store: Store) -> str | None:
    """The store's audit head as its anchor file says (every writer updates it)."""
    anchor = store.audit_anchor
    return json.dumps(json.loads(anchor.read_text())) if anchor.exists() else None


def _copy_head(path: Path) -> str | None:
    if not path.exists():
        return None
    try:
        con = duckdb.connect(str(path), read_only=True)
    except duckdb.Error:
        return None
    try:
        row = con.execute(f"SELECT audit_head FROM main.{COPY_INFO}").fetchone()
    except duckdb.Error:
        return None
    finally:
        con.close()
    return row[0] if row else None
