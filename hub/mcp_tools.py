"""What `hub mcp` answers, without the protocol: the serve products one audience may read,
listed, described, queried and searched as that audience sees them.

- Every read goes through the same sandbox as `hub sql`: `IsolatedSandbox` (a child process
  with row, byte, memory and time limits) over the audience's published copy
  (`hub.copies.reader_path`), never the store. The store is opened only to read the gate,
  the batches and the PII classes, and to append to the audit trail; one connection at a
  time in this process (DuckDB refuses a read-only and a read-write one side by side).
- A query may read only products: DuckDB's own parser (`json_serialize_sql`, the one the
  sandbox runs) names every table it reads, CTEs resolved by scope; anything else (a copy's
  bookkeeping, `unified.*`, a file) is refused, and so is a product whose foundation gate is
  closed, with the gate's reasons.
- A product's gate is the agents' rule for that product alone: every blocking check on it
  and on everything it is built from, transitively, passed on the current data. For the
  `agent` audience the copy must also hold the product's proven batch.
- Only `agent` and `analyst` are served: the steward reads the store itself, in clear,
  which is not for outside agents.
- Documents are searched with the agents' own BM25 tool (`hub.agents.tools.SandboxTools`)
  over the documents products the agents declare, whole (not per subject), as the audience's
  copy holds them (masked).
"""

from __future__ import annotations

import json
import threading
from pathlib import Path
from typing import Any

import duckdb

from hub import audit, gate
from hub.config import HubConfig
from hub.copies import (
    COPIED_BATCHES,
    copy_head,
    copy_holds,
    copy_path,
    head_text,
    reader_path,
    store_head,
)
from hub.governance import pii_of, policies_for, readable_by
from hub.masking import policy_for
from hub.sandbox import (
    ATTACHED,
    IsolatedSandbox,
    Result,
    SandboxQueryError,
    SandboxRefused,
    open_sandbox,
    require_one_select,
    run_select,
)
from hub.store import Store, quote_ident
from quality.specs import table_checks

OUTSIDE_AUDIENCES = ("agent", "analyst")
SHOWN_AS = {
    "clear": "in clear",
    "mask": "masked, keeping its shape (j***@example.com, ***4567)",
    "hash": "a salted hash (16 hex characters): equal values hash equal, so joins still work",
    "redact": "always NULL",
}


class McpRefused(Exception):
    """The call is not allowed; the message says why and what to ask instead."""


class ProductReader:
    """The products of one project as one audience reads them, for outside agents."""

    def __init__(self, config: HubConfig, audience: str | None = None) -> None:
        audience = audience or config.mcp.audience
        if audience not in OUTSIDE_AUDIENCES:
            raise McpRefused(
                f"outside agents read as `agent` or `analyst`, not {audience!r}: the steward "
                "reads the store itself, in clear, which is never served over MCP. Fix: serve "
                "`--as agent` (the default) or `--as analyst`."
            )
        self.config, self.audience, self.store = config, audience, Store.of(config)
        self.limits = config.mcp
        self._store_lock = threading.Lock()
        self._sandbox_lock = threading.Lock()
        self._sandbox: IsolatedSandbox | None = None
        self._copy: tuple[Path, int, int] | None = None
        self._current_at: str | None = None
        "The store's audit head the analysts' copy is known to be current at."
        self._searches: dict[tuple, Any] = {}

    # -- what the tools answer ------------------------------------------------------------

    def products(self) -> list[str]:
        return readable_by(self.config, self.audience)

    def list_products(self) -> dict[str, Any]:
        names = self.products()
        with self._store_lock, self.store.reader() as con:
            batches = {n: _latest_batch(con, f"serve.{n}") for n in names}
        verdicts = self.gates(names)
        return {
            "audience": self.audience,
            "products": [
                {
                    "name": name,
                    "table": self.table(name),
                    "description": self.config.serve[name].description,
                    "rows": batches[name]["rows"],
                    "built_at": batches[name]["built_at"],
                    "gate": "open" if verdicts[name].open else "closed",
                }
                for name in names
            ],
        }

    def describe(self, name: str) -> dict[str, Any]:
        product = self.config.serve[self.require_readable(name)]
        ref = f"serve.{name}"
        with self._store_lock, self.store.reader() as con:
            batch = _latest_batch(con, ref)
            pii = pii_of(self.config, ref, con)
            specs = table_checks(self.config)
            checks = [
                {
                    "table": table,
                    "check": state.spec.name,
                    "blocking": state.spec.blocking,
                    "state": state.state,
                    "unexpected_count": state.unexpected_count,
                    "evaluated_at": state.evaluated_at,
                }
                for table in gate.upstream_tables(self.config, ref)
                for state in gate.check_states(con, table, specs.get(table, []))
            ]
        verdict = self.gates([name])[name]
        typed = (
            self.sandbox()
            .query(
                "SELECT column_name, data_type FROM duckdb_columns() WHERE database_name = ? "
                "AND schema_name = ? AND table_name = ? ORDER BY column_index",
                [ATTACHED, self._schema, name],
                max_rows=10_000,
                timeout=self.limits.max_query_seconds,
            )
            .rows
        )
        policies = policies_for(self.config, self.audience)
        columns = []
        for column, kind in typed:
            policy = policy_for(pii[column], policies) if column in pii else "clear"
            declared = product.columns.get(column)
            columns.append(
                {
                    "name": column,
                    "type": kind,
                    "description": declared.description if declared else "",
                    "pii": pii.get(column),
                    "policy": policy,
                    "shown_as": SHOWN_AS[policy],
                }
            )
        return {
            "name": name,
            "table": self.table(name),
            "description": product.description,
            "owners": product.owners,
            "primary_key": product.primary_key,
            **batch,
            "columns": columns,
            "gate": {"open": verdict.open, "message": verdict.message()},
            "checks": checks,
        }

    def query(self, sql: str) -> dict[str, Any]:
        products = self.products_read(sql)
        closed = [v for v in self.gates(products).values() if not v.open]
        if closed:
            raise McpRefused("\n".join(v.message() for v in closed))
        result = self._query(sql)
        return {
            "products": products,
            "columns": result.columns,
            "rows": json.loads(json.dumps(result.rows, default=str)),
            "row_count": len(result.rows),
            "truncated": result.truncated,
        }

    def search_documents(self, query: str, limit: int = 5) -> dict[str, Any]:
        from hub.agents.tools import SandboxTools

        limit = max(1, min(limit, 20))
        searchable = self.document_products()
        if not searchable:
            raise McpRefused(
                f"the {self.audience} audience reads no documents product (one an agent "
                "searches, `agents.<name>.documents`)."
            )
        verdicts = self.gates(list(searchable))
        open_ = [n for n in searchable if verdicts[n].open]
        if not open_:
            raise McpRefused("\n".join(verdicts[n].message() for n in searchable))
        sandbox = self.sandbox()
        hits = []
        for name in open_:
            key = (name, self._copy)
            if key not in self._searches:
                self._searches[key] = SandboxTools(sandbox, searchable[name], self._documents(name))
            found = json.loads(self._searches[key].search_documents(query, top_k=limit))
            hits += [{"product": name, **hit} for hit in found]
        hits.sort(key=lambda hit: -hit["score"])
        return {
            "hits": hits[:limit],
            "skipped": {n: verdicts[n].message() for n in searchable if n not in open_},
        }

    def contract(self, name: str) -> str:
        try:
            from hub.contracts import contract_yaml
        except ImportError:
            raise McpRefused("data contracts are not available in this Groundwork") from None
        name = self.require_readable(name)
        with self._store_lock, self.store.reader() as con:
            return contract_yaml(self.config, name, con, audience=self.audience)

    # -- the rules ------------------------------------------------------------------------

    def require_readable(self, name: str) -> str:
        if name not in self.products():
            raise McpRefused(
                f"no product {name!r} for the {self.audience} audience; it reads "
                f"{', '.join(self.products()) or 'none'} (list_products describes them)."
            )
        return name

    def products_read(self, sql: str) -> list[str]:
        """The products one SELECT reads; refused when it reads anything else."""
        products = []
        for catalog, schema, table in tables_read(sql):
            name = self._product_at(catalog.lower(), schema.lower(), table.lower())
            if name is None:
                shown = ".".join(part for part in (catalog, schema, table) if part)
                raise McpRefused(
                    f"the query reads {shown}, which is not a product the {self.audience} "
                    f"audience may read. Query the products by these names: "
                    f"{', '.join(self.table(n) for n in self.products()) or 'none'}."
                )
            products.append(name)
        return list(dict.fromkeys(products))

    def gates(self, names: list[str]) -> dict[str, gate.GateVerdict]:
        """Each product's foundation gate, and (agent) whether the copy holds what it proved."""
        with self._store_lock, self.store.reader() as con:
            verdicts = {name: gate.evaluate_product(con, self.config, name) for name in names}
        if self.audience != "agent" or not names:
            return verdicts
        copied = dict(self._query(COPIED_BATCHES).rows)
        for name, verdict in verdicts.items():
            ref = f"serve.{name}"
            if not copy_holds(copied, ref, verdict.batches.get(ref)):
                problem = (
                    f"{ref}: the agents' copy holds batch {copied.get(ref)}, which is no longer "
                    "current; rebuild copies/agent_copy"
                )
                verdicts[name] = gate.GateVerdict(
                    verdict.target, [*verdict.problems, problem], verdict.batches
                )
        return verdicts

    def table(self, name: str) -> str:
        """How a query names the product in this audience's copy."""
        return name if self.audience == "agent" else f"serve.{name}"

    def document_products(self) -> dict[str, Any]:
        """Readable products an agent searches as documents -> that agent's config."""
        readable = self.products()
        found = {}
        for agent in self.config.agents.values():
            if agent.documents in readable and agent.documents not in found:
                found[agent.documents] = agent
        return found

    @property
    def _schema(self) -> str:
        return "main" if self.audience == "agent" else "serve"

    def _product_at(self, catalog: str, schema: str, table: str) -> str | None:
        if not catalog and schema == ATTACHED:  # `hub.x`: the attached catalog's default schema
            catalog, schema = ATTACHED, ""
        schemas = ("", "main") if self.audience == "agent" else ("serve",)
        if catalog in ("", ATTACHED) and schema in schemas and table in self.products():
            return table
        return None

    # -- the sandbox, the store -----------------------------------------------------------

    def sandbox(self) -> IsolatedSandbox:
        """The isolated sandbox on the audience's copy as it is now: a new one when the copy
        was published again (the old process still reads the file it opened)."""
        with self._store_lock:
            path = self._copy_path()
        stat = path.stat()
        copy = (path, stat.st_ino, stat.st_mtime_ns)
        with self._sandbox_lock:
            if self._sandbox is None or copy != self._copy:
                if self._sandbox is not None:
                    self._sandbox.close()
                self._searches.clear()
                self._sandbox = IsolatedSandbox(path, memory_limit=self.limits.memory_limit)
                self._copy = copy
            return self._sandbox

    def _query(self, sql: str, params: Any = None) -> Result:
        limits = self.limits
        return self.sandbox().query(
            sql,
            params,
            max_rows=limits.max_rows,
            max_bytes=limits.max_result_bytes,
            timeout=limits.max_query_seconds,
        )

    def _documents(self, name: str) -> list[tuple[str, str, str]]:
        """Every document of the product as the copy holds it: (doc_id, title, body)."""
        con = open_sandbox(self._copy[0], memory_limit=self.limits.memory_limit, threads=1)
        try:
            table = ".".join(quote_ident(part) for part in (self._schema, name))
            return run_select(
                con,
                f"SELECT CAST(doc_id AS VARCHAR), coalesce(CAST(title AS VARCHAR), ''), "
                f"coalesce(CAST(body AS VARCHAR), '') FROM {table} ORDER BY doc_id",
            ).fetchall()
        finally:
            con.close()

    def _copy_path(self) -> Path:
        """The audience's copy. The analysts' copy is republished when the store moved on
        since it was published, but not for this server's own audit records: they change no
        data, and republishing the whole copy on every call would make each call cost one."""
        path = copy_path(self.config, self.audience)
        if self._current_at is not None and store_head(self.store) == self._current_at:
            if path.exists():
                return path
        path = reader_path(self.config, self.store, self.audience)
        self._current_at = copy_head(path) if self.audience == "analyst" else None
        return path

    def audit(self, actor: str, action: str, target: str, details: dict[str, Any]) -> None:
        with self._store_lock, self.store.transaction() as con:
            before = head_text(con)
            audit.append(con, actor=actor, action=action, target=target, details=details)
            if self._current_at is not None and before == self._current_at:
                self._current_at = head_text(con)  # nothing but this record came since

    def close(self) -> None:
        with self._sandbox_lock:
            if self._sandbox is not None:
                self._sandbox.close()
                self._sandbox = None


def tables_read(sql: str) -> list[tuple[str, str, str]]:
    """(catalog, schema, table) of every table one SELECT reads, by DuckDB's own parser; a
    name that refers to a CTE in scope is not a table."""
    con = duckdb.connect(":memory:")
    try:
        require_one_select(con, sql)
        tree = json.loads(con.execute("SELECT json_serialize_sql(?)", [sql]).fetchone()[0])
    finally:
        con.close()
    if tree.get("error"):
        raise SandboxQueryError(f"the query does not parse: {tree.get('error_message')}")
    found: list[tuple[str, str, str]] = []
    _walk(tree, frozenset(), found)
    return list(dict.fromkeys(found))


def _walk(node: Any, ctes: frozenset[str], found: list[tuple[str, str, str]]) -> None:
    if isinstance(node, list):
        for item in node:
            _walk(item, ctes, found)
        return
    if not isinstance(node, dict):
        return
    if node.get("type") == "BASE_TABLE":
        catalog, schema, table = (str(node.get(k) or "") for k in _NAME_KEYS)
        if catalog or schema or table.lower() not in ctes:
            found.append((catalog, schema, table))
    entries = (node.get("cte_map") or {}).get("map") or []
    scope = ctes
    for entry in entries:  # a CTE sees the ones before it, and itself only when recursive
        name, query = str(entry["key"]).lower(), entry["value"]["query"]
        recursive = query.get("node", {}).get("type") == "RECURSIVE_CTE_NODE"
        _walk(query, scope | {name} if recursive else scope, found)
        scope = scope | {name}
    for key, value in node.items():
        if key != "cte_map":
            _walk(value, scope, found)


_NAME_KEYS = ("catalog_name", "schema_name", "table_name")


def _latest_batch(con: duckdb.DuckDBPyConnection, ref: str) -> dict[str, Any]:
    row = con.execute(
        "SELECT batch_id, rows, loaded_at FROM meta.batches WHERE table_name = ? "
        "ORDER BY seq DESC LIMIT 1",
        [ref],
    ).fetchone()
    if row is None:
        return {"batch": None, "rows": None, "built_at": None}
    return {"batch": row[0], "rows": row[1], "built_at": row[2].isoformat()}


REFUSALS = (McpRefused, SandboxRefused, SandboxQueryError)
"What a call is refused or fails with, said to the client as it is."
