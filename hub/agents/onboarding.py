"""The `onboarding` agent's offline draft: a welcome plan from the client's top onboarding
note (its Goals, Integrations, Risks and Kick-off sections) and its account's standing.

An agent named `<name>` in hub.yaml may have a module `hub/agents/<name>.py` like this one;
its `compose` writes the agent's drafts in offline mode (`llm.provider: offline`).
"""

from __future__ import annotations

import re
from typing import Any


def compose(name: str, documents: list[dict[str, Any]], facts: dict[str, Any]) -> dict[str, str]:
    """A welcome plan from the top document's sections and the subject's facts."""
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
