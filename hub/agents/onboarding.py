"""The `onboarding` agent's offline draft: a welcome plan from the client's top onboarding
note (its Goals, Integrations, Risks and Kick-off sections) and its account's standing, and,
when the note gives a kick-off date, two proposed actions: the kick-off meeting and a
follow-up task (offered only where the agent's `actions` allow them).

An agent named `<name>` in hub.yaml may have a module `hub/agents/<name>.py` like this one;
its `compose` writes the agent's drafts in offline mode (`llm.provider: offline`).
"""

from __future__ import annotations

import re
from datetime import date, timedelta
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
    draft: dict[str, Any] = {"title": f"Welcome plan for {name}", "body": "\n".join(lines)}
    kickoff = _kickoff_date(sections.get("Kick-off", []))
    if kickoff:
        draft["actions"] = _kickoff_actions(name, kickoff, " ".join(sections["Kick-off"]))
    return draft


def _kickoff_date(lines: list[str]) -> date | None:
    found = re.search(r"\b(\d{4}-\d{2}-\d{2})\b", " ".join(lines))
    try:
        return date.fromisoformat(found.group(1)) if found else None
    except ValueError:
        return None


def _kickoff_actions(name: str, kickoff: date, said: str) -> list[dict[str, Any]]:
    """A kick-off meeting on the note's date (10:00 UTC, one hour) and a follow-up task for
    two days later: proposed only; a human approves each."""
    return [
        {
            "kind": "meeting",
            "title": f"Kick-off: {name}",
            "start": f"{kickoff.isoformat()}T10:00:00+00:00",
            "duration_minutes": 60,
            "description": said.lstrip("- "),
        },
        {
            "kind": "task",
            "title": f"Follow up on the kick-off with {name}",
            "due": (kickoff + timedelta(days=2)).isoformat(),
            "notes": "Send the minutes and confirm the integrations' owners.",
        },
    ]


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
