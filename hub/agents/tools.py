"""The only tools an agent has: read-only SQL on its own products, and search of its
subject's documents.

There is no tool that sends or writes anything. SQL runs in the isolated sandbox
(`hub.sandbox.IsolatedSandbox`) on a file holding only the agent's subjects and `reads`
products: one SELECT, limited in rows, bytes, memory and wall-clock time (the query's
process is killed at the limit); the documents are not in that file. Search only ever sees
the documents of the subject being drafted for (by the declared `documents_key`), handed in
by the runtime, and returns them as quoted data, never as instructions. Every call is kept,
refused and interrupted ones included, so the draft can cite what it used and the audit
trail shows all of it.
"""

from __future__ import annotations

import json
import threading
from dataclasses import dataclass, field
from typing import Any

from hub.config import AgentConfig
from hub.sandbox import IsolatedSandbox, SandboxQueryError, SandboxRefused, SandboxTimeout


class ToolRefused(Exception):
    """The agent asked for something its tools do not allow; the agent is told why."""


@dataclass
class SandboxTools:
    sandbox: IsolatedSandbox
    "The isolated sandbox on the agent's own products (no documents in it)."
    agent: AgentConfig
    documents: list[Any]
    "The subject's documents, (doc_id, title, body): all that search can return."
    calls: list[dict[str, Any]] = field(default_factory=list)
    _retriever: Any = None
    _top_k: int = 0
    _lock: threading.Lock = field(default_factory=threading.Lock, repr=False)
    "The agent may run tool calls in parallel threads; calls are recorded one at a time."

    def sql(self, query: str) -> str:
        """Run one read-only SQL SELECT on the governed data; returns rows as JSON."""
        agent = self.agent
        try:
            result = self.sandbox.query(
                query,
                max_rows=agent.max_rows,
                max_bytes=agent.max_result_bytes,
                timeout=agent.max_query_seconds,
            )
        except (SandboxRefused, SandboxTimeout) as exc:
            self._record({"tool": "sql", "sql": query, "refused": str(exc)})
            raise ToolRefused(str(exc)) from None
        except SandboxQueryError as exc:
            self._record({"tool": "sql", "sql": query, "error": str(exc)})
            raise ToolRefused(str(exc)) from None
        rows = [dict(zip(result.columns, row, strict=True)) for row in result.rows]
        self._record(
            {"tool": "sql", "sql": query, "rows": len(rows)}
            | ({"truncated": True} if result.truncated else {})
        )
        return json.dumps({"rows": rows, "truncated": result.truncated}, default=str)

    def search_documents(self, query: str, top_k: int = 3) -> str:
        """Search this client's onboarding documents (BM25); returns quoted excerpts with
        their ids."""
        retriever = self._bm25(top_k)
        hits = [
            {
                "doc_id": n.node.node_id,
                "title": n.node.metadata.get("title", ""),
                "score": round(float(n.score or 0), 3),
                "quoted_text": n.node.get_content(),
            }
            for n in (retriever.retrieve(query) if retriever else [])
        ]
        self._record(
            {"tool": "search_documents", "query": query, "doc_ids": [h["doc_id"] for h in hits]}
        )
        return json.dumps(hits)

    def function_tools(self) -> list[Any]:
        from llama_index.core.tools import FunctionTool

        available = {"sql": self.sql, "search_documents": self.search_documents}
        return [FunctionTool.from_defaults(fn=available[name]) for name in self.agent.tools]

    def citations(self) -> dict[str, list[str]]:
        docs = [d for c in self.calls if c["tool"] == "search_documents" for d in c["doc_ids"]]
        return {
            "documents": list(dict.fromkeys(docs)),
            "sql": [c["sql"] for c in self.calls if c["tool"] == "sql" and "rows" in c],
        }

    def _record(self, call: dict[str, Any]) -> None:
        with self._lock:
            self.calls.append(call)

    def _bm25(self, top_k: int) -> Any:
        """A BM25 retriever over the subject's documents only (None when it has none)."""
        if not self.documents:
            return None
        if self._retriever is None or self._top_k != top_k:
            from llama_index.core.schema import TextNode
            from llama_index.retrievers.bm25 import BM25Retriever

            nodes = [TextNode(id_=d, text=b, metadata={"title": t}) for d, t, b in self.documents]
            self._retriever = BM25Retriever.from_defaults(
                nodes=nodes, similarity_top_k=min(top_k, len(nodes))
            )
            self._top_k = top_k
        return self._retriever
