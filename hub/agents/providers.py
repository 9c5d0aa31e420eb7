"""LLM providers by configuration; all go through LlamaIndex, none is imported until used.

`ollama` talks to Ollama's OpenAI-compatible endpoint, so one client class serves Ollama,
vLLM, LM Studio and any other OpenAI-compatible server; `openai` uses OpenAI itself.
"""

from __future__ import annotations

from typing import Any

from hub.config import LLMConfig

OLLAMA_DEFAULT = "http://127.0.0.1:11434/v1"


def llm_for(config: LLMConfig, *, timeout: float) -> Any:
    if config.provider == "openai":
        from llama_index.llms.openai import OpenAI

        return OpenAI(
            model=config.model or "gpt-4o-mini",
            api_key=config.api_key,
            api_base=config.api_base,
            timeout=timeout,
        )
    if config.provider in ("ollama", "openai_like"):
        from llama_index.llms.openai_like import OpenAILike

        if not config.model:
            raise ValueError(f"llm.provider {config.provider} needs `llm.model`")
        return OpenAILike(
            model=config.model,
            api_base=config.api_base or OLLAMA_DEFAULT,
            api_key=config.api_key or "not-needed",
            is_chat_model=True,
            is_function_calling_model=True,
            timeout=timeout,
        )
    raise ValueError(f"llm.provider {config.provider} has no client here")
