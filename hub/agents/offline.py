"""Offline mode: no model, a fixed plan over the same tools, through the same agent loop.

The scripted LLM asks the `FunctionAgent` to call the tools a planner would (search the
subject's documents, query the subject's facts), then writes the draft from what the tools
returned. Every draft it writes says `mode: offline`. It exists so the pipeline runs on any
machine; configure `llm.provider` for real reasoning.
"""

from __future__ import annotations

import json
import re
from typing import Any

from hub.store import quote_ident


def offline_llm(subject_table: str, subject_key: str, subject_id: str, subject_name: str) -> Any:
    from llama_index.core.base.llms.types import ChatMessage, MessageRole, ToolCallBlock
    from llama_index.core.llms.mock import MockFunctionCallingLLM

    quoted_id = subject_id.replace("'", "''")
    plan = [
        ToolCallBlock(
            tool_call_id="search_documents",
            tool_name="search_documents",
            tool_kwargs={"query": subject_name, "top_k": 1},
        ),
        ToolCallBlock(
            tool_call_id="sql",
            tool_name="sql",
            tool_kwargs={
                "query": f"SELECT * FROM {quote_ident(subject_table)} "
                f"WHERE {quote_ident(subject_key)} = '{quoted_id}'"
            },
        ),
    ]

    def respond(messages: list[ChatMessage], **_: Any) -> ChatMessage:
        results = {
            m.additional_kwargs.get("tool_call_id"): m.content
            for m in messages
            if m.role == MessageRole.TOOL
        }
        if not results:
            return ChatMessage(role=MessageRole.ASSISTANT, blocks=plan)
        draft = compose(subject_name, results.get("search_documents"), results.get("sql"))
        return ChatMessage(role=MessageRole.ASSISTANT, content=json.dumps(draft))

    return MockFunctionCallingLLM(response_generator=respond, is_chat_model=True)


def compose(name: str, documents_json: str | None, facts_json: str | None) -> dict[str, str]:
    """A welcome plan from the top document's sections and the subject's facts."""
    documents = _loads(documents_json)
    facts = (_loads(facts_json, "rows") or [{}])[0]
    sections = _sections(documents[0]["quoted_text"]) if documents else {}
    lines = [f"Dear {name} team,", "", "Welcome aboard! Here is the onboarding plan we propose."]
    for heading, intro in (
        ("Goals", "What you want to achieve"),
        ("Integrations", "What we will connect"),
        ("Risks", "What we will watch closely"),
    ):
        if sections.get(heading):
            lines += ["", f"{intro}:", *sections[heading]]
    status = [
        f"{k.replace('_', ' ')}: {v}"
        for k, v in facts.items()
        if k.startswith(("open_", "overdue_", "balance")) and v is not None
    ]
    if status:
        lines += ["", "Where your account stands today: " + "; ".join(status) + "."]
    if sections.get("Kick-off"):
        lines += ["", "Kick-off: " + " ".join(s.lstrip("- ") for s in sections["Kick-off"])]
    lines += ["", "Kind regards,", "Your onboarding team"]
    return {"title": f"Welcome plan for {name}", "body": "\n".join(lines)}


def _loads(text: str | None, key: str | None = None) -> list[dict[str, Any]]:
    """The list a tool returned (under `key` when it returns an object); [] if it failed."""
    try:
        value = json.loads(text or "[]")
    except json.JSONDecodeError:
        return []
    if key and isinstance(value, dict):
        value = value.get(key)
    return value if isinstance(value, list) else []


def _sections(markdown: str) -> dict[str, list[str]]:
    sections: dict[str, list[str]] = {}
    current = None
    for line in markdown.splitlines():
        heading = re.match(r"^##\s+(.*)$", line)
        if heading:
            current = heading.group(1).strip()
            sections[current] = []
        elif current and line.strip():
            sections[current].append(line.strip())
    return sections
