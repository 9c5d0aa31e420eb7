"""Each audience's published copy: a DuckDB file of its own, masked by its policy.

An audience reads its copy, never views over the store, so no query can get around the
masking: the clear values are not in its file.
- `agent` (`store.agent_path`): the products for agents, in the `main` schema, plus the
  serve batches they were copied from (the foundation gate checks those). Written by the
  serve assets. An agent's SQL tool reads a narrower file still (`agent_sql_copy`): only
  its own products, without the documents, which only its search tool reads, per subject.
- `analyst` (`store.analyst_path`): `unified.*`, the `serve.*` products for agents and
  analysts, `meta.check_results` and `meta.batches`; republished on read whenever the store
  changed since (its audit head moved), which needs read access to the store.
- `steward`: the store itself.
Each copy is written whole under a temporary name and swapped in, so a reader sees the old
copy or the new one.
"""

from __future__ import annotations

import json
import os
import uuid
from collections.abc import Callable, Mapping
from pathlib import Path

import duckdb

from hub.config import AgentConfig, HubConfig
from hub.governance import masked_columns, readable_by
from hub.store import (
    Store,
    StoreError,
    audit_head,
    quote_ident,
    quote_literal,
    read_anchor,
    split_ref,
    table_exists,
    table_ref,
)

COPY_BATCHES = "_hub_batches"
"Table of the agent copy naming the serve batch each product was copied from."
COPIED_BATCHES = f"SELECT table_name, batch_id FROM {COPY_BATCHES}"
"What the agents' copy says it was copied from: (store table, batch) rows, read in the copy."
COPY_INFO = "_hub_copy"
"Table of every copy naming the audit head of the store it was published from."


def copy_path(config: HubConfig, audience: str) -> Path:
    if audience == "steward":
        return Store.of(config).path
    return config.resolve(getattr(config.store, f"{audience}_path"))


def agent_copy_tables(config: HubConfig) -> list[tuple[str, str, str]]:
    """(schema in the copy, name, store table) of each table the agents' copy holds."""
    return [("main", n, f"serve.{n}") for n, p in config.serve.items() if p.audience == "agent"]


def analyst_copy_tables(config: HubConfig) -> list[tuple[str, str, str]]:
    """(schema in the copy, name, store table) of each table the analysts' copy holds."""
    tables = [("unified", e, f"unified.{e}") for e in config.entities]
    tables += [("unified", f"{e}_xref", f"unified.{e}_xref") for e in config.entities]
    tables += [("serve", n, f"serve.{n}") for n in readable_by(config, "analyst")]
    return tables + [("meta", t, f"meta.{t}") for t in ("check_results", "batches")]


def publish_agent_copy(con: duckdb.DuckDBPyConnection, config: HubConfig) -> Path:
    """Write the agent audience's products, masked, to their own file, swapped in whole."""
    tables = agent_copy_tables(config)

    def batches(copy: str) -> None:
        con.execute(
            f"CREATE TABLE {copy}.main.{COPY_BATCHES} AS SELECT table_name, batch_id "
            "FROM meta.batches WHERE list_contains(?, table_name) "
            "QUALIFY row_number() OVER (PARTITION BY table_name ORDER BY seq DESC) = 1",
            [[ref for _, _, ref in tables if table_exists(con, *split_ref(ref))]],
        )

    return _publish(con, config, "agent", copy_path(config, "agent"), tables, batches)


def publish_analyst_copy(con: duckdb.DuckDBPyConnection, config: HubConfig) -> Path:
    tables = analyst_copy_tables(config)
    return _publish(con, config, "analyst", copy_path(config, "analyst"), tables)


def agent_sql_copy(source: Path, agent: AgentConfig, target: Path) -> Path:
    """What one agent's SQL tool may read: its subjects and `reads` products, taken from
    (a snapshot of) the agents' copy as they are there (masked), the documents left out."""
    names = [n for n in dict.fromkeys([agent.subjects, *agent.reads]) if n != agent.documents]
    con = duckdb.connect(str(target))
    try:
        con.execute(f"ATTACH {quote_literal(str(source))} AS agent_copy (READ_ONLY)")
        for name in names:
            con.execute(
                f"CREATE TABLE main.{quote_ident(name)} AS "
                f"SELECT * FROM agent_copy.main.{quote_ident(name)}"
            )
    finally:
        con.close()
    return target


def copy_holds(copied: Mapping[str, str | None], ref: str, batch: str | None) -> bool:
    """Whether a copy holds `batch` of `ref` (the batch the store proved), `copied` being what
    the copy says it was copied from (store table -> batch; the agents' copy: the rows of
    `COPIED_BATCHES`). The agents' copy is republished only by the pipeline: after `ref` was
    rebuilt it still holds the older batch, and its rows are that older data."""
    return copied.get(ref) == batch


def reader_path(config: HubConfig, store: Store, audience: str) -> Path:
    """The file `audience` reads: the store for the steward, else its copy, republished
    first (analyst) when the store changed since it was written."""
    path = copy_path(config, audience)
    if not store.path.exists():
        raise StoreError(f"no store at {store.path} yet. Fix: run `hub run` to build it.")
    if audience == "analyst":
        head = store_head(store)
        if head is None or head != copy_head(path):
            try:
                with store.reader() as con:
                    publish_analyst_copy(con, config)
            except PermissionError as exc:
                raise StoreError(
                    f"cannot publish the analyst copy at {path} ({exc}). Fix: let this user "
                    "write that folder, or read a copy the pipeline published."
                ) from None
    if not path.exists():
        raise StoreError(
            f"no copy for the {audience} audience at {path} yet. Fix: run `hub run` so the "
            "serve products are published."
        )
    return path


def _publish(
    con: duckdb.DuckDBPyConnection,
    config: HubConfig,
    audience: str,
    target: Path,
    tables: list[tuple[str, str, str]],
    extra: Callable[[str], None] | None = None,
) -> Path:
    """Fill a new file with `tables` ((schema, name, store table)) as `audience` sees them,
    then swap it in for `target`."""
    target.parent.mkdir(parents=True, exist_ok=True)
    staging = target.with_name(f"{target.name}.{uuid.uuid4().hex[:8]}.staging")
    copy = f"hub_copy_{uuid.uuid4().hex[:8]}"
    con.execute(f"ATTACH {quote_literal(str(staging))} AS {copy} (READ_WRITE)")
    try:
        for schema, name, ref in tables:
            if not table_exists(con, *split_ref(ref)):
                continue
            con.execute(f"CREATE SCHEMA IF NOT EXISTS {copy}.{quote_ident(schema)}")
            con.execute(
                f"CREATE TABLE {copy}.{quote_ident(schema)}.{quote_ident(name)} AS "
                f"SELECT {masked_columns(con, config, ref, audience)} "
                f"FROM {table_ref(*split_ref(ref))}"
            )
        if extra:
            extra(copy)
        con.execute(
            f"CREATE TABLE {copy}.main.{COPY_INFO} AS SELECT ? AS audience, ? AS audit_head",
            [audience, head_text(con)],
        )
    except BaseException:
        con.execute(f"DETACH {copy}")
        staging.unlink(missing_ok=True)
        raise
    con.execute(f"DETACH {copy}")
    os.replace(staging, target)
    return target


def head_text(con: duckdb.DuckDBPyConnection) -> str | None:
    """The audit trail's head as a copy records it (what `store_head` compares it with)."""
    found = audit_head(con)
    return json.dumps({"seq": found[0], "hash": found[1]}) if found else None


def store_head(store: Store) -> str | None:
    """The store's audit head as its anchor says (every writer updates it); None when
    there is none or it cannot be read, which makes the copy be republished."""
    try:
        anchored = read_anchor(store.audit_anchor)
    except StoreError:
        return None
    return json.dumps({"seq": anchored[0], "hash": anchored[1]}) if anchored else None


def copy_head(path: Path) -> str | None:
    """The store's audit head when the copy at `path` was published (None: unknown)."""
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
