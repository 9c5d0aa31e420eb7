"""Offline mode writes each agent's drafts with the agent's own module when it has one
(`hub/agents/<name>.py` with `compose`), else plainly from what the tools returned."""

from __future__ import annotations

from hub.agents import offline, onboarding

NOTE = {"doc_id": "acme.md", "quoted_text": "# Acme\n## Goals\n- Close the books in 3 days\n"}


def test_an_agent_with_a_module_of_its_own_writes_with_it() -> None:
    assert offline.composer_of("onboarding") is onboarding.compose
    draft = offline.composer_of("onboarding")("Acme", [NOTE], {"open_tickets": 2})
    assert draft["title"] == "Welcome plan for Acme"
    assert "Close the books in 3 days" in draft["body"] and "open tickets: 2" in draft["body"]


def test_an_agent_without_one_gets_a_plain_draft_of_what_the_tools_returned() -> None:
    for name in ("renewals", "tools"):  # no module; a module without `compose`
        assert offline.composer_of(name) is offline.compose
    draft = offline.compose("Acme", [NOTE], {"customer_id": "C001", "phone": None})
    assert draft["title"] == "Draft for Acme"
    assert "From acme.md:" in draft["body"] and "Close the books" in draft["body"]
    assert "customer_id: C001" in draft["body"] and "phone" not in draft["body"]
