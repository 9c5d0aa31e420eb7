"""Offline mode: no model, a fixed plan over the same tools, through the same agent loop.

The scripted LLM asks the `FunctionAgent` to call the tools a planner would (search the
subject's documents, query the subject's facts), then writes the draft from what the tools
returned: with the agent's own `compose` when `hub/agents/<agent>.py` has one (as
`hub/agents/onboarding.py` does), else a plain draft of what the tools returned. Actions a
`compose` proposes are kept only where the agent's `actions` allow them. Every draft
it writes says `mode: offline`. It exists so the pipeline runs on any machine; configure
`llm.provider` for real reasoning.
"""

from __future__ import annotations

import importlib
import importlib.util
import json
from collections.abc import Callable
from typing import Any

from hub.store import quote_ident


def offline_llm(
    agent: str,
    subject_table: str,
    subject_key: str,
    subject_id: str,
    subject_name: str,
    allowed_actions: list[str] = (),
) -> Any:
    from llama_index.core.base.llms.types import ChatMessage, MessageRole, ToolCallBlock
    from llama_index.core.llms.mock import MockFunctionCallingLLM

    write = composer_of(agent)
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
        documents = _loads(results.get("search_documents"))
        facts = (_loads(results.get("sql"), "rows") or [{}])[0]
        draft = write(subject_name, documents, facts)
        proposed = [a for a in draft.get("actions", []) if a.get("kind") in allowed_actions]
        draft = {**draft, "actions": proposed} if proposed else _without_actions(draft)
        return ChatMessage(role=MessageRole.ASSISTANT, content=json.dumps(draft))

    return MockFunctionCallingLLM(response_generator=respond, is_chat_model=True)


def compose(name: str, documents: list[dict[str, Any]], facts: dict[str, Any]) -> dict[str, str]:
    """The draft of an agent without a module of its own: what the tools returned, plainly."""
    lines = [f"Draft for {name} (offline mode: no model wrote this)."]
    if documents:
        lines += ["", f"From {documents[0]['doc_id']}:", documents[0]["quoted_text"].strip()]
    lines += ["", *(f"{key}: {value}" for key, value in facts.items() if value is not None)]
    return {"title": f"Draft for {name}", "body": "\n".join(lines)}


def _without_actions(draft: dict[str, Any]) -> dict[str, Any]:
    return {key: value for key, value in draft.items() if key != "actions"}


def composer_of(agent: str) -> Callable[..., dict[str, str]]:
    """`compose` of the agent's own module `hub/agents/<agent>.py`, if it has one."""
    if importlib.util.find_spec(f"hub.agents.{agent}") is not None:
        own = getattr(importlib.import_module(f"hub.agents.{agent}"), "compose", None)
        if callable(own):
            return own
    return compose


def _loads(text: str | None, key: str | None = None) -> list[dict[str, Any]]:
    """The list a tool returned (under `key` when it returns an object); [] if it failed."""
    try:
        value = json.loads(text or "[]")
    except json.JSONDecodeError:
        return []
    if key and isinstance(value, dict):
        value = value.get(key)
    return value if isinstance(value, list) else []
