"""The only tools an agent has: read-only SQL on its sandbox, and document search.

There is no tool that sends or writes anything. SQL is limited to one SELECT, a row limit
and a time limit; documents come back as quoted data, never as instructions. Every call is
kept so the draft can cite what it used and the audit trail can show it.
"""

from __future__ import annotations

import json
import threading
from dataclasses import dataclass, field
from typing import Any

import duckdb

from hub.store import table_ref


class ToolRefused(Exception):
    """The agent asked for something its tools do not allow."""


@dataclass
class SandboxTools:
    con: duckdb.DuckDBPyConnection
    "A sandbox from `governance.open_agent_sandbox`."
    documents_table: str | None
    max_rows: int = 200
    max_seconds: float = 10.0
    calls: list[dict[str, Any]] = field(default_factory=list)
    _retriever: Any = None
    _lock: threading.Lock = field(default_factory=threading.Lock, repr=False)
    "The agent runs parallel tool calls in threads; one DuckDB connection is not thread-safe."

    def sql(self, query: str) -> str:
        """Run one read-only SQL SELECT on the governed data; returns rows as JSON."""
        with self._lock:
            statements = self.con.extract_statements(query)
            if len(statements) != 1 or statements[0].type != duckdb.StatementType.SELECT:
                self.calls.append({"tool": "sql", "sql": query, "refused": True})
                raise ToolRefused("only one SELECT statement is allowed")
            timer = threading.Timer(self.max_seconds, self.con.interrupt)
            timer.start()
            try:
                cursor = self.con.execute(query)
                columns = [d[0] for d in cursor.description]
                rows = [dict(zip(columns, r, strict=True)) for r in cursor.fetchmany(self.max_rows)]
            finally:
                timer.cancel()
        self.calls.append({"tool": "sql", "sql": query, "rows": len(rows)})
        return json.dumps(rows, default=str)

    def search_documents(self, query: str, top_k: int = 3) -> str:
        """Search the onboarding documents (BM25); returns quoted excerpts with their ids."""
        hits = [
            {
                "doc_id": n.node.node_id,
                "title": n.node.metadata.get("title", ""),
                "score": round(float(n.score or 0), 3),
                "quoted_text": n.node.get_content(),
            }
            for n in self._bm25(top_k).retrieve(query)
        ]
        self.calls.append(
            {"tool": "search_documents", "query": query, "doc_ids": [h["doc_id"] for h in hits]}
        )
        return json.dumps(hits)

    def function_tools(self, allowed: list[str]) -> list[Any]:
        from llama_index.core.tools import FunctionTool

        available = {"sql": self.sql, "search_documents": self.search_documents}
        return [FunctionTool.from_defaults(fn=available[name]) for name in allowed]

    def citations(self) -> dict[str, list[str]]:
        docs = [d for c in self.calls if c["tool"] == "search_documents" for d in c["doc_ids"]]
        return {
            "documents": list(dict.fromkeys(docs)),
            "sql": [c["sql"] for c in self.calls if c["tool"] == "sql" and not c.get("refused")],
        }

    def _bm25(self, top_k: int) -> Any:
        if self._retriever is None or self._retriever.similarity_top_k != top_k:
            from llama_index.core.schema import TextNode
            from llama_index.retrievers.bm25 import BM25Retriever

            if self.documents_table is None:
                raise ToolRefused("this agent has no documents to search")
            with self._lock:
                rows = self.con.execute(
                    f"SELECT doc_id, title, body FROM {table_ref('main', self.documents_table)} "
                    "ORDER BY doc_id"
                ).fetchall()
            nodes = [TextNode(id_=d, text=b, metadata={"title": t}) for d, t, b in rows]
            self._retriever = BM25Retriever.from_defaults(
                nodes=nodes, similarity_top_k=min(top_k, len(nodes))
            )
        return self._retriever
