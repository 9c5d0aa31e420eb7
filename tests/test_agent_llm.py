"""The real LLM provider path (`openai_like`) against a scripted OpenAI-compatible stub.

The stub is a stdlib HTTP server on 127.0.0.1 that answers `POST /v1/chat/completions`,
as JSON or as server-sent events when the client asks to stream (LlamaIndex's
`FunctionAgent` streams by default). It records every request body, so the tests can check
what the agent sent: the guardrails, the tools, the tool results. Nothing leaves the machine.
"""

from __future__ import annotations

import itertools
import json
import re
import shutil
import threading
import time
from collections.abc import Callable, Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

import duckdb
import pytest

from hub import drafts
from hub.agents.runtime import GUARDRAILS, AgentOutputError, run_agent
from hub.config import load_config
from tests.conftest import DemoProject, steward

Reply = dict[str, Any]
"`{'content': str}` or `{'tool_calls': [(tool name, arguments dict), ...]}`."
Script = Callable[[dict[str, Any]], Reply]

SUBJECT = re.compile(r"Subject: (?P<name>.*) \((?P<key>\w+) = (?P<id>[^)]*)\)\. Tables:")


class ChatStub:
    """A scripted OpenAI-compatible chat-completions server on 127.0.0.1 (any free port)."""

    def __init__(self, script: Script) -> None:
        self.script = script
        self.requests: list[dict[str, Any]] = []
        self._ids = itertools.count(1)
        self._lock = threading.Lock()
        stub = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self) -> None:
                if self.path.rstrip("/") != "/v1/chat/completions":
                    self._json(404, {"error": {"message": f"unknown path {self.path}"}})
                    return
                body = json.loads(self.rfile.read(int(self.headers["Content-Length"])))
                with stub._lock:
                    stub.requests.append(body)
                    number = next(stub._ids)
                try:
                    reply = stub.script(body)
                except Exception as exc:  # a broken script shows up as a server error
                    self._json(500, {"error": {"message": f"stub script failed: {exc!r}"}})
                    return
                if body.get("stream"):
                    self._events(stub.chunks(number, body["model"], reply))
                else:
                    self._json(200, stub.completion(number, body["model"], reply))

            def _json(self, status: int, payload: dict[str, Any]) -> None:
                data = json.dumps(payload).encode()
                self.send_response(status)
                self.send_header("Content-Type", "application/json")
                self.send_header("Content-Length", str(len(data)))
                self.end_headers()
                self.wfile.write(data)

            def _events(self, chunks: list[dict[str, Any]]) -> None:
                self.send_response(200)
                self.send_header("Content-Type", "text/event-stream")
                self.send_header("Cache-Control", "no-cache")
                self.end_headers()
                for chunk in chunks:
                    self.wfile.write(f"data: {json.dumps(chunk)}\n\n".encode())
                    self.wfile.flush()
                self.wfile.write(b"data: [DONE]\n\n")
                self.wfile.flush()

            def log_message(self, *_: Any) -> None:
                pass

        self._server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self._server.daemon_threads = True
        self._thread = threading.Thread(target=self._server.serve_forever, daemon=True)

    @property
    def url(self) -> str:
        host, port = self._server.server_address[:2]
        return f"http://{host}:{port}/v1"

    def __enter__(self) -> ChatStub:
        self._thread.start()
        return self

    def __exit__(self, *_: object) -> None:
        self._server.shutdown()
        self._server.server_close()

    @staticmethod
    def _tool_calls(number: int, reply: Reply) -> list[dict[str, Any]]:
        return [
            {
                "id": f"call_{number}_{i}",
                "type": "function",
                "function": {"name": name, "arguments": json.dumps(arguments)},
            }
            for i, (name, arguments) in enumerate(reply.get("tool_calls", []))
        ]

    def completion(self, number: int, model: str, reply: Reply) -> dict[str, Any]:
        calls = self._tool_calls(number, reply)
        message: dict[str, Any] = {"role": "assistant", "content": reply.get("content")}
        if calls:
            message["tool_calls"] = calls
        return {
            "id": f"chatcmpl-stub-{number}",
            "object": "chat.completion",
            "created": int(time.time()),
            "model": model,
            "choices": [
                {
                    "index": 0,
                    "message": message,
                    "finish_reason": "tool_calls" if calls else "stop",
                    "logprobs": None,
                }
            ],
            "usage": {"prompt_tokens": 1, "completion_tokens": 1, "total_tokens": 2},
        }

    def chunks(self, number: int, model: str, reply: Reply) -> list[dict[str, Any]]:
        calls = self._tool_calls(number, reply)
        deltas: list[dict[str, Any]] = [{"role": "assistant", "content": ""}]
        content = reply.get("content") or ""
        deltas += [{"content": content[i : i + 16]} for i in range(0, len(content), 16)]
        deltas += [{"tool_calls": [{"index": i, **call}]} for i, call in enumerate(calls)]
        finish = "tool_calls" if calls else "stop"

        def chunk(delta: dict[str, Any], finish_reason: str | None) -> dict[str, Any]:
            return {
                "id": f"chatcmpl-stub-{number}",
                "object": "chat.completion.chunk",
                "created": int(time.time()),
                "model": model,
                "choices": [
                    {"index": 0, "delta": delta, "finish_reason": finish_reason, "logprobs": None}
                ],
            }

        return [chunk(d, None) for d in deltas] + [chunk({}, finish)]


def text_of(message: dict[str, Any]) -> str:
    """A chat message's text, whether `content` is a string or a list of parts."""
    content = message.get("content") or ""
    if isinstance(content, list):
        return "".join(p.get("text", "") for p in content if isinstance(p, dict))
    return str(content)


def subject_of(body: dict[str, Any]) -> re.Match[str]:
    user = next(m for m in body["messages"] if m["role"] == "user")
    match = SUBJECT.search(text_of(user))
    assert match, f"unexpected user message: {text_of(user)!r}"
    return match


def tool_results(body: dict[str, Any]) -> list[str]:
    return [text_of(m) for m in body["messages"] if m["role"] == "tool"]


def subject_sql(match: re.Match[str]) -> str:
    return f"SELECT * FROM clients WHERE {match['key']} = '{match['id']}'"


def onboarding_script(body: dict[str, Any]) -> Reply:
    """Search and query the subject, then write a draft that quotes what the tools returned."""
    subject = subject_of(body)
    results = tool_results(body)
    if not results:
        return {
            "tool_calls": [
                ("search_documents", {"query": subject["name"]}),
                ("sql", {"query": subject_sql(subject)}),
            ]
        }
    docs = [h for r in results if r.startswith("[") for h in json.loads(r) if "doc_id" in h]
    rows = [h for r in results if r.startswith("{") for h in json.loads(r)["rows"]]
    assert docs, results
    draft = {
        "title": f"Stub plan for {subject['name']}",
        "body": f"Based on {docs[0]['doc_id']} and {len(rows)} client row(s).",
    }
    return {"content": json.dumps(draft)}


@pytest.fixture(scope="module")
def served_project(
    built_demo_template: Path, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[DemoProject]:
    """A copy of the built demo (the offline agent already drafted), shared by this module."""
    root = tmp_path_factory.mktemp("served") / "project"
    shutil.copytree(built_demo_template, root)
    project = DemoProject(root, write_config=False)
    with pytest.MonkeyPatch.context() as mp:
        for name in ("HUB_LLM_PROVIDER", "HUB_LLM_MODEL", "HUB_LLM_API_BASE", "HUB_LLM_API_KEY"):
            mp.delenv(name, raising=False)
        mp.setenv("DAGSTER_HOME", str(root / ".dagster"))
        mp.setenv("HUB_CONFIG", str(project.config_path))
        yield project


def llm_config(project: DemoProject, stub: ChatStub, monkeypatch: pytest.MonkeyPatch) -> Any:
    monkeypatch.setenv("HUB_LLM_PROVIDER", "openai_like")
    monkeypatch.setenv("HUB_LLM_MODEL", "stub-model")
    monkeypatch.setenv("HUB_LLM_API_BASE", stub.url)
    monkeypatch.delenv("HUB_LLM_API_KEY", raising=False)
    monkeypatch.setenv("NO_PROXY", "127.0.0.1,localhost")
    config = load_config(project.config_path)
    assert config.agents["onboarding"].llm.provider == "openai_like"
    return config


def agent_clients(config: Any) -> list[tuple[Any, ...]]:
    path = config.resolve(config.store.agent_path)
    with duckdb.connect(str(path), read_only=True) as con:
        return con.execute("SELECT * FROM clients ORDER BY customer_id").fetchall()


def test_openai_like_agent_drafts_from_tool_results(
    served_project: DemoProject, monkeypatch: pytest.MonkeyPatch
) -> None:
    with ChatStub(onboarding_script) as stub:
        config = llm_config(served_project, stub, monkeypatch)
        clients = agent_clients(config)
        drafts = run_agent(config, "onboarding")

    assert len(drafts) == len(clients) == 12
    assert len(stub.requests) == 2 * 12
    for draft in drafts:
        assert draft.mode == "llm"
        assert draft.model == "openai_like:stub-model"
        assert draft.title == f"Stub plan for {draft.subject_name}"
        search, sql = (
            next(c for c in draft.tool_calls if c["tool"] == name)
            for name in ("search_documents", "sql")
        )
        expected_sql = f"SELECT * FROM clients WHERE customer_id = '{draft.subject_id}'"
        # the tools really ran on the sandbox: one client row, real document ids
        assert sql == {"tool": "sql", "sql": expected_sql, "rows": 1}
        assert search["query"] == draft.subject_name and search["doc_ids"]
        assert draft.body == f"Based on {search['doc_ids'][0]} and 1 client row(s)."
        assert search["doc_ids"][0] in draft.citations["documents"]
        assert draft.citations["sql"] == [expected_sql]

    first, second = stub.requests[:2]
    assert first["model"] == "stub-model"
    system = next(m for m in first["messages"] if m["role"] == "system")
    assert GUARDRAILS in text_of(system)
    assert "onboarding coordinator" in text_of(system)
    tools = {t["function"]["name"]: t["function"] for t in first["tools"]}
    assert set(tools) == {"sql", "search_documents"}
    assert "query" in tools["sql"]["parameters"]["properties"]
    assert not tool_results(first)
    # the second request carries the assistant's tool calls and both tool results
    calls = [m for m in second["messages"] if m["role"] == "assistant" and m.get("tool_calls")]
    assert [c["function"]["name"] for c in calls[0]["tool_calls"]] == ["search_documents", "sql"]
    names = {c["id"]: c["function"]["name"] for c in calls[0]["tool_calls"]}
    results = {
        names[m["tool_call_id"]]: json.loads(text_of(m))
        for m in second["messages"]
        if m["role"] == "tool"
    }
    assert set(results) == {"search_documents", "sql"}
    hits, rows = results["search_documents"], results["sql"]["rows"]
    searched = next(c for c in drafts[0].tool_calls if c["tool"] == "search_documents")
    assert [h["doc_id"] for h in hits] == searched["doc_ids"] and hits[0]["quoted_text"]
    assert rows[0]["customer_id"] == subject_of(second)["id"]
    # contact data reached the model masked, as governance published it
    assert rows[0]["email"].startswith(rows[0]["email"][0] + "***@")


def test_non_json_answer_is_refused(
    served_project: DemoProject, monkeypatch: pytest.MonkeyPatch
) -> None:
    def script(body: dict[str, Any]) -> Reply:
        return {"content": "Sure! Here is a lovely welcome plan, no JSON though."}

    with ChatStub(script) as stub:
        config = llm_config(served_project, stub, monkeypatch)
        with pytest.raises(AgentOutputError, match="not JSON"):
            run_agent(config, "onboarding")

    assert len(stub.requests) == 1  # the first subject's answer already stops the run


def test_write_is_refused_and_the_agent_continues(
    served_project: DemoProject, monkeypatch: pytest.MonkeyPatch
) -> None:
    def script(body: dict[str, Any]) -> Reply:
        results = tool_results(body)
        if not results:
            return {"tool_calls": [("sql", {"query": "DELETE FROM clients"})]}
        return {"content": json.dumps({"title": "Refused", "body": results[0]})}

    with ChatStub(script) as stub:
        config = llm_config(served_project, stub, monkeypatch)
        before = agent_clients(config)
        drafts = run_agent(config, "onboarding")
        after = agent_clients(config)

    assert after == before and len(after) == 12
    assert len(drafts) == 12
    for draft in drafts:
        [call] = draft.tool_calls
        assert call["sql"] == "DELETE FROM clients"
        assert "only one SELECT statement is allowed" in call["refused"]
        assert draft.citations == {"documents": [], "sql": []}
        assert "only one SELECT statement is allowed" in draft.body
    # the refusal went back to the model as the tool's result
    assert "only one SELECT statement is allowed" in tool_results(stub.requests[1])[0]


def test_a_query_past_its_time_limit_is_stopped_and_recorded(
    served_project: DemoProject, monkeypatch: pytest.MonkeyPatch
) -> None:
    """CPU-bound string work ignores DuckDB's interrupt; the sandbox's process is killed."""
    slow = "SELECT length(repeat('x', 1000000000) || repeat('y', 1000000000)) AS n"

    def script(body: dict[str, Any]) -> Reply:
        results = tool_results(body)
        if not results:
            return {"tool_calls": [("sql", {"query": slow})]}
        return {"content": json.dumps({"title": "Stopped", "body": results[0]})}

    with ChatStub(script) as stub:
        config = llm_config(served_project, stub, monkeypatch)
        config.agents["onboarding"].max_query_seconds = 1.0
        first, *others = [row[0] for row in agent_clients(config)]
        started = time.monotonic()
        [draft] = run_agent(config, "onboarding", skip=set(others))
        took = time.monotonic() - started

    assert draft.subject_id == first
    assert took < 8  # the query alone runs 28 s on this machine
    [call] = draft.tool_calls
    assert call["sql"] == slow and "stopped at its time limit of 1s" in call["refused"]
    assert "stopped at its time limit" in draft.body  # the model was told why
    written = drafts.record(served_project.store, "onboarding", [draft], run_id="limits")
    assert written == [draft.draft_id]
    trail = steward(
        "SELECT details FROM meta.audit_log WHERE action = 'agent.draft' AND target = ?",
        [draft.draft_id],
    ).details[0]
    assert json.loads(trail)["tool_calls"] == [call]


def test_the_sql_tool_cannot_read_the_documents_or_other_products(
    served_project: DemoProject, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A prompt-injected "query the documents table" finds no documents: the SQL tool's file
    holds only the agent's own products; search alone reads documents, per subject."""
    attempts = [
        "SELECT body FROM onboarding_docs",
        "SELECT * FROM query_table('onboarding_docs')",
        "SELECT table_name FROM duckdb_tables()",
    ]

    def script(body: dict[str, Any]) -> Reply:
        results = tool_results(body)
        if not results:
            return {"tool_calls": [("sql", {"query": q}) for q in attempts]}
        return {"content": json.dumps({"title": "Tried", "body": " | ".join(results)})}

    with ChatStub(script) as stub:
        config = llm_config(served_project, stub, monkeypatch)
        first, *others = [row[0] for row in agent_clients(config)]
        [draft] = run_agent(config, "onboarding", skip=set(others))

    calls = {c["sql"]: c for c in draft.tool_calls}
    assert "does not exist" in calls[attempts[0]]["error"]
    assert "['query_table'] are not allowed here" in calls[attempts[1]]["refused"]
    assert calls[attempts[2]]["rows"] == 1  # its own subjects product, and nothing else
    assert '{"table_name": "clients"}' in draft.body
