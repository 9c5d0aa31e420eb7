"""Drafts keep their identity: a run on the same inputs keeps every draft and its id; a
changed input supersedes only its subject's pending draft, saying what changed; decided
drafts are never drafted again on the same inputs; `hub drafts` never cuts an id."""

from __future__ import annotations

import json
import os
import subprocess
import sys

import duckdb
import pytest

from hub import audit, drafts
from hub.agents.inputs import changes
from hub.runner import materialize
from tests.conftest import DemoProject, steward


def all_drafts() -> dict[str, tuple[str, str]]:
    """draft id -> (subject id, status), every draft ever written."""
    rows = steward("SELECT draft_id, subject_id, status FROM agents.drafts").values.tolist()
    return {draft_id: (subject, status) for draft_id, subject, status in rows}


def audited(action: str) -> list[dict]:
    rows = steward(
        "SELECT target, details FROM meta.audit_log WHERE action = ? ORDER BY seq", [action]
    )
    return [{"target": t, **json.loads(d)} for t, d in rows.values.tolist()]


def subject_of_document(project: DemoProject, name: str) -> str:
    return steward(
        "SELECT customer_id FROM serve.onboarding_docs WHERE doc_id = ?", [name]
    ).customer_id[0]


def verified(project: DemoProject) -> audit.Verdict:
    with project.store.reader() as con:
        return audit.verify(con, project.store.audit_anchor, project.config.resolve("outbox"))


def hub_cli(project: DemoProject, *args: str, columns: int = 400):
    return subprocess.run(
        [sys.executable, "-m", "hub.cli", *args],
        cwd=project.root,
        capture_output=True,
        text=True,
        env={**os.environ, "COLUMNS": str(columns)},
        timeout=120,
    )


def test_a_run_on_unchanged_inputs_keeps_every_draft(built_demo: DemoProject) -> None:
    before = all_drafts()
    written_before = len(audited("agent.draft"))

    report = materialize(built_demo.config_path)  # `hub run`: every source reloaded as it is

    assert report.success, report.failures
    assert all_drafts() == before  # same ids, same statuses, nothing new
    assert len(audited("agent.draft")) == written_before == 12
    last_run = audited("agent.run")[-1]
    assert last_run["drafts"] == 0 and sorted(last_run["kept"]) == sorted(before)
    assert verified(built_demo).ok


def test_a_changed_document_supersedes_only_its_subjects_draft(
    built_demo: DemoProject,
) -> None:
    before = all_drafts()
    changed = subject_of_document(built_demo, "harbor-health.md")
    note = built_demo.root / "demo" / "docs" / "harbor-health.md"
    note.write_text(note.read_text() + "\n## Risks\n- The data migration may slip a week.\n")

    assert materialize(built_demo.config_path).success

    after = all_drafts()
    [old] = [d for d, (subject, _) in before.items() if subject == changed]
    [new] = set(after) - set(before)
    assert after[new] == (changed, "pending") and after[old] == (changed, "superseded")
    assert {d: v for d, v in after.items() if d not in (old, new)} == {
        d: v for d, v in before.items() if d != old
    }  # the other eleven drafts: same ids, still pending
    what = "inputs changed: documents (changed harbor-health.md)"
    [superseded] = audited("draft.supersede")
    assert superseded["target"] == old and superseded["reason"] == f"superseded by {new}: {what}"

    listed = hub_cli(built_demo, "drafts")
    assert listed.returncode == 0, listed.stdout + listed.stderr
    assert f"replaces {old}: {what}" in listed.stdout
    history = hub_cli(built_demo, "drafts", "--status", "superseded")
    assert f"superseded by {new}: {what}" in history.stdout and "1 row(s)" in history.stdout
    assert verified(built_demo).ok


def test_decided_drafts_are_not_drafted_again(built_demo: DemoProject) -> None:
    """Approved stays done whatever changes; rejected stays as it is on the same inputs and
    gets a new draft when its inputs change (here its invoices: one is paid now)."""
    store, config = built_demo.store, built_demo.config
    by_subject = {subject: d for d, (subject, _) in all_drafts().items()}
    harbor = subject_of_document(built_demo, "harbor-health.md")
    brightwater = subject_of_document(built_demo, "brightwater-health.md")
    maple = subject_of_document(built_demo, "maple-insurance.md")
    drafts.approve(store, config, by_subject[harbor], by="maria")
    drafts.reject(store, by_subject[brightwater], by="maria", reason="too long")
    drafts.reject(store, by_subject[maple], by="maria", reason="wrong tone")

    assert materialize(built_demo.config_path).success  # the same inputs: nothing new
    assert len(all_drafts()) == 12

    invoices = built_demo.root / "demo" / "billing" / "invoices.csv"
    text = invoices.read_text()
    for invoice in ("INV-50001,A-1001", "INV-50003,A-1002"):  # Brightwater's, Harbor's
        line = next(row for row in text.splitlines() if row.startswith(invoice))
        text = text.replace(line, line.rsplit(",", 1)[0] + ",paid")
    invoices.write_text(text)
    assert materialize(built_demo.config_path).success

    after = all_drafts()
    [new] = set(after) - set(by_subject.values())
    assert after[new] == (brightwater, "pending")
    assert after[by_subject[brightwater]] == (brightwater, "rejected")
    assert after[by_subject[harbor]] == (harbor, "approved")  # done: not drafted again
    assert after[by_subject[maple]] == (maple, "rejected")  # its inputs did not change
    listed = drafts.list_drafts(store).set_index("draft_id")
    assert listed.note[new] == (
        f"after rejected {by_subject[brightwater]}: inputs changed: "
        "serve.clients row (changed open_invoices)"
    )
    assert verified(built_demo).ok


def test_hub_drafts_never_cuts_an_id(built_demo: DemoProject) -> None:
    ids = set(drafts.list_drafts(built_demo.store).draft_id)
    for columns in (80, 60):
        listed = hub_cli(built_demo, "drafts", columns=columns)
        assert listed.returncode == 0, listed.stdout + listed.stderr
        assert max(len(line) for line in listed.stdout.splitlines()) <= columns
        shown = set(drafts.DRAFT_ID.findall(listed.stdout))
        assert shown == ids  # all twelve, each whole
    copied = sorted(shown)[0]  # what a user copies from the table
    opened = hub_cli(built_demo, "draft", copied, columns=80)
    assert opened.returncode == 0, opened.stdout + opened.stderr
    assert "(pending, mode offline" in opened.stdout


def test_a_changed_input_fingerprint_is_caught_by_verify(built_demo: DemoProject) -> None:
    first = sorted(all_drafts())[0]
    con = duckdb.connect(str(built_demo.store.path))
    try:
        con.execute(
            "UPDATE agents.drafts SET inputs_sha256 = repeat('0', 64) WHERE draft_id = ?", [first]
        )
    finally:
        con.close()
    verdict = verified(built_demo)
    assert not verdict.ok
    assert f"draft {first}" in verdict.problem and "input fingerprint differs" in verdict.problem


@pytest.mark.parametrize(
    ("before", "after", "said"),
    [
        ({"instructions": "a", "model": "m"}, {"instructions": "b", "model": "m"}, "instructions"),
        (
            {"serve.clients row": {"name": "1", "open_tickets": "2"}, "documents": {"a.md": "x"}},
            {"serve.clients row": {"name": "1", "open_tickets": "3"}, "documents": {"b.md": "x"}},
            "serve.clients row (changed open_tickets), documents (added b.md; removed a.md)",
        ),
        (
            {"documents": {}},
            {"documents": {f"{n}.md": "x" for n in "abcde"}},
            "documents (added a.md, b.md, c.md and 2 more)",
        ),
        (None, {"model": "m"}, "the earlier draft has no record of its inputs"),
    ],
)
def test_changes_name_what_differs(before: dict | None, after: dict, said: str) -> None:
    assert changes(before, after) == said
