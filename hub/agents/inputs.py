"""What one agent's draft for one subject depends on, as a fingerprint kept with the draft.

An agent re-run on the same inputs keeps the subject's draft (same id); a changed input
supersedes it, and the reason names what changed. The inputs, each hashed on its own so a
change can be named:
- `instructions`: the agent's instructions and the runtime's guardrails (its system prompt);
- `settings`: the products it reads and their keys, its tools, step, time, row, byte and
  memory limits, the actions it may propose (the rest of its `hub.yaml` block, except the
  description and the API key; `actions` only when it has some);
- `model`: the LLM provider, model and API base; for `offline`, the code that writes the
  draft instead of a model (`hub/agents/offline.py` and the agent's `hub/agents/<name>.py`);
- `serve.<subjects> row`: the subject's row of its subjects product as the agent audience
  sees it (masked), one hash per column; Groundwork's lineage columns are left out;
- `documents`: the subject's documents (title and body), one hash per document id;
- `serve.<product> rows`: for each `reads` product, its rows for the subject (those whose
  `subject_key` column holds the subject's id), or the whole product when it has no such
  column, since the agent's SQL may then read any of it.
"""

from __future__ import annotations

import hashlib
import importlib.util
import json
from collections.abc import Iterable
from pathlib import Path
from typing import Any

from hub.config import AgentConfig
from hub.schema import LINEAGE

INSTRUCTIONS = "instructions"
SETTINGS = "settings"
MODEL = "model"
DOCUMENTS = "documents"
_NOT_SETTINGS = {"description", "instructions", "llm", "signups"}
"Not what a draft says: signups only decide when the agent runs, for whom."
_NAMED_AT_MOST = 3


def sha256(value: Any) -> str:
    """SHA-256 of a value's canonical JSON (keys sorted, values as text where not JSON)."""
    text = json.dumps(value, sort_keys=True, ensure_ascii=False, default=str)
    return hashlib.sha256(text.encode()).hexdigest()


def agent_parts(name: str, agent: AgentConfig, guardrails: str) -> dict[str, str]:
    """The inputs every subject of the agent shares: its prompt, settings and model."""
    settings = agent.model_dump(mode="json", exclude=_NOT_SETTINGS)
    if not settings.get("actions"):  # an agent that proposes none fingerprints as before
        settings.pop("actions", None)  # actions existed: its drafts are not superseded
    model: dict[str, Any] = {
        "provider": agent.llm.provider,
        "model": agent.llm.model,
        "api_base": agent.llm.api_base,
    }
    if agent.llm.provider == "offline":
        model["planner"] = [_source("hub.agents.offline"), _source(f"hub.agents.{name}")]
    return {
        INSTRUCTIONS: sha256([agent.instructions, guardrails]),
        SETTINGS: sha256(settings),
        MODEL: sha256(model),
    }


def _source(module: str) -> str | None:
    """SHA-256 of a module's code (None when there is no such module)."""
    spec = importlib.util.find_spec(module)
    if spec is None or spec.origin is None:
        return None
    return hashlib.sha256(Path(spec.origin).read_bytes()).hexdigest()


def subject_parts(
    agent: AgentConfig,
    row: dict[str, Any],
    documents: Iterable[tuple[str, str, str]],
    reads: dict[str, Any],
) -> dict[str, Any]:
    """The inputs of one subject: its row, its documents ((doc_id, title, body), ...) and
    what it reads of the `reads` products (product -> its rows, as `reads_rows` gives)."""
    parts: dict[str, Any] = {
        row_part(agent): {
            column: sha256(value) for column, value in row.items() if column not in LINEAGE
        },
        DOCUMENTS: {doc_id: sha256([title, body]) for doc_id, title, body in documents},
    }
    for product, rows in reads.items():
        parts[f"serve.{product} rows"] = sha256(rows)
    return parts


def row_part(agent: AgentConfig) -> str:
    return f"serve.{agent.subjects} row"


def reads_rows(
    columns: list[str], rows: list[tuple], subject_key: str
) -> tuple[dict[str, list[str]], list[str] | None]:
    """One `reads` product's rows as canonical text, lineage columns left out: per subject
    id when the product has the `subject_key` column, else all of them (returned second)."""
    keep = [i for i, c in enumerate(columns) if c not in LINEAGE]
    kept_columns = [columns[i] for i in keep]

    def text(row: tuple) -> str:
        return json.dumps(
            dict(zip(kept_columns, (row[i] for i in keep), strict=True)),
            sort_keys=True,
            ensure_ascii=False,
            default=str,
        )

    if subject_key not in columns:
        return {}, sorted(text(row) for row in rows)
    key = columns.index(subject_key)
    scoped: dict[str, list[str]] = {}
    for row in rows:
        scoped.setdefault(str(row[key]), []).append(text(row))
    return {subject: sorted(texts) for subject, texts in scoped.items()}, None


def digest(parts: dict[str, Any]) -> str:
    """The fingerprint kept with a draft: one hash of all its input parts."""
    return sha256(parts)


def changes(before: dict[str, Any] | None, after: dict[str, Any]) -> str:
    """What differs between two fingerprints, in words: `serve.clients row (open_tickets),
    documents (changed: a.md)`."""
    if not before:
        return "the earlier draft has no record of its inputs"
    said = []
    for part in list(dict.fromkeys([*after, *before])):
        old, new = before.get(part), after.get(part)
        if old == new:
            continue
        if isinstance(old, dict) and isinstance(new, dict):
            said.append(f"{part} ({_items_changed(old, new)})")
        else:
            said.append(part)
    return ", ".join(said) or "nothing"


def _items_changed(old: dict[str, str], new: dict[str, str]) -> str:
    kinds = {
        "added": [k for k in new if k not in old],
        "changed": [k for k in new if k in old and new[k] != old[k]],
        "removed": [k for k in old if k not in new],
    }
    said = []
    for kind, names in kinds.items():
        if names:
            more = len(names) - _NAMED_AT_MOST
            listed = ", ".join(names[:_NAMED_AT_MOST]) + (f" and {more} more" if more > 0 else "")
            said.append(f"{kind} {listed}")
    return "; ".join(said)
