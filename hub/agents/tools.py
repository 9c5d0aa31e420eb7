"""The only tools an agent has: read-only SQL on its sandbox, and search of its subject's
documents.

There is no tool that sends or writes anything. SQL runs in the isolated sandbox
(`hub.sandbox.IsolatedSandbox`): one SELECT, limited in rows, bytes, memory and wall-clock
time (the query's process is killed at the limit). Document search only ever sees the
documents of the subject being drafted for (by the declared `documents_key`), and returns
them as quoted data, never as instructions. Every call is kept, refused and interrupted
ones included, so the draft can cite what it used and the audit trail shows all of it.
"""

from __future__ import annotations

import json
import threading
from dataclasses import dataclass, field
from typing import Any

from hub.config import AgentConfig
from hub.sandbox import IsolatedSandbox, SandboxQueryError, SandboxRefused, SandboxTimeout
from hub.store import quote_ident

DOCUMENT_BYTES = 64 << 20
"What loading one subject's documents for search may read from the sandbox."


class ToolRefused(Exception):
    """The agent asked for something its tools do not allow; the agent is told why."""


@dataclass
class SandboxTools:
    sandbox: IsolatedSandbox
    agent: AgentConfig
    subject_id: str
    calls: list[dict[str, Any]] = field(default_factory=list)
    _retriever: Any = None
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
        if self._retriever is None or self._retriever.similarity_top_k != top_k:
            from llama_index.core.schema import TextNode
            from llama_index.retrievers.bm25 import BM25Retriever

            nodes = [
                TextNode(id_=d, text=b, metadata={"title": t}) for d, t, b in self._documents()
            ]
            if not nodes:
                return None
            self._retriever = BM25Retriever.from_defaults(
                nodes=nodes, similarity_top_k=min(top_k, len(nodes))
            )
        return self._retriever

    def _documents(self) -> list[list[Any]]:
        agent = self.agent
        if agent.documents is None:
            raise ToolRefused("this agent has no documents to search")
        key = agent.documents_key or agent.subject_key
        try:
            result = self.sandbox.query(
                f"SELECT doc_id, title, body FROM {quote_ident(agent.documents)} "
                f"WHERE CAST({quote_ident(key)} AS VARCHAR) = ? ORDER BY doc_id",
                [self.subject_id],
                max_rows=10_000,
                max_bytes=DOCUMENT_BYTES,
                timeout=60,
            )
        except SandboxQueryError as exc:
            raise ToolRefused(
                f"the documents of serve.{agent.documents} cannot be tied to a subject by "
                f"`{key}` ({exc}). Fix: publish a `{key}` column in that product, or set "
                "`documents_key` on the agent"
            ) from None
        return result.rows
