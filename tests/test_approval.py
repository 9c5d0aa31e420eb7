"""The human at the exit, attacked: approval binds the content, the trail misses nothing,
one bad draft cannot stop the others, one live draft per subject."""

from __future__ import annotations

import email
import json
import os
import subprocess
import sys

import duckdb
import pytest

from hub import audit, drafts
from hub.agents.runtime import run_agent
from hub.delivery import deliver_approved
from hub.drafts import DraftError
from hub.recipients import usable_address
from hub.store import audit_head
from tests.conftest import DemoProject, steward


def tamper(project: DemoProject, sql: str, params: list | None = None) -> None:
    """Change the store the way an attacker with the file would: no Groundwork code runs."""
    con = duckdb.connect(str(project.store.path))
    try:
        con.execute(sql, params)
    finally:
        con.close()


def verify(project: DemoProject) -> audit.Verdict:
    config = project.config
    with project.store.reader() as con:
        return audit.verify(con, project.store.audit_anchor, config.resolve("outbox"))


def pending(project: DemoProject) -> list[tuple[str, str]]:
    """(draft id, subject id) of the pending drafts, oldest first."""
    return [
        tuple(r)
        for r in steward(
            "SELECT draft_id, subject_id FROM agents.drafts WHERE status = 'pending' "
            "ORDER BY created_at, draft_id"
        ).values
    ]


def statuses(project: DemoProject) -> dict[str, str]:
    return dict(steward("SELECT draft_id, status FROM agents.drafts").values.tolist())


def outbox(project: DemoProject) -> list[str]:
    return sorted(p.stem for p in (project.root / "outbox").glob("*.eml"))


def test_approval_binds_content_and_recipient(built_demo: DemoProject) -> None:
    store, config = built_demo.store, built_demo.config
    (body_changed, _), (recipient_changed, subject), (untouched, _) = pending(built_demo)[:3]
    for draft_id in (body_changed, recipient_changed, untouched):
        drafts.approve(store, config, draft_id, by="maria")
    tamper(
        built_demo,
        "UPDATE agents.drafts SET body = body || '\nPay to IBAN DE89370400440532013000' "
        "WHERE draft_id = ?",
        [body_changed],
    )
    tamper(
        built_demo,
        "UPDATE unified.customer SET email = 'someone.else@example.com' WHERE customer_id = ?",
        [subject],
    )

    outcomes = {o.draft_id: o for o in deliver_approved(config, store)}

    assert outcomes[untouched].status == "delivered"
    for draft_id in (body_changed, recipient_changed):
        assert outcomes[draft_id].status == "pending"
        assert "changed after it was approved" in outcomes[draft_id].detail
        assert f"hub draft {draft_id}" in outcomes[draft_id].detail
    assert outbox(built_demo) == [untouched]
    now = statuses(built_demo)
    assert now[body_changed] == now[recipient_changed] == "pending"  # to be approved again
    refused = steward(
        "SELECT target FROM meta.audit_log WHERE action = 'draft.deliver_refused' ORDER BY seq"
    )
    assert sorted(refused.target) == sorted([body_changed, recipient_changed])
    # the body was changed behind Groundwork's back: the trail says so, naming the draft
    verdict = verify(built_demo)
    assert not verdict.ok
    assert f"draft {body_changed}" in verdict.problem
    assert "differs from what the agent wrote" in verdict.problem
    message = email.message_from_bytes(
        (built_demo.root / "outbox" / f"{untouched}.eml").read_bytes()
    )
    assert (
        message["X-Groundwork-Content-SHA256"]
        == steward(
            "SELECT approved_sha256 FROM agents.drafts WHERE draft_id = ?", [untouched]
        ).approved_sha256[0]
    )


def test_a_status_changed_outside_groundwork_is_caught_and_not_sent(
    built_demo: DemoProject,
) -> None:
    (draft_id, _), *_ = pending(built_demo)
    tamper(
        built_demo, "UPDATE agents.drafts SET status = 'approved' WHERE draft_id = ?", [draft_id]
    )

    verdict = verify(built_demo)
    [outcome] = deliver_approved(built_demo.config, built_demo.store)

    assert not verdict.ok
    assert f"draft {draft_id}" in verdict.problem
    assert "'approved' in agents.drafts but 'pending' in the trail" in verdict.problem
    assert outcome.status == "pending" and outbox(built_demo) == []


def test_records_cut_off_the_end_are_caught_even_after_new_appends(
    built_demo: DemoProject,
) -> None:
    store, config = built_demo.store, built_demo.config
    (first, _), (second, _), (third, _), (fourth, _), *_ = pending(built_demo)
    drafts.approve(store, config, first, by="maria")
    deliver_approved(config, store)
    assert verify(built_demo).ok
    last = int(steward("SELECT max(seq) AS n FROM meta.audit_log").n[0])
    sending = int(
        steward(
            "SELECT seq FROM meta.audit_log WHERE action = 'draft.sending' AND target = ?",
            [first],
        ).seq[0]
    )  # then the delivery, and its invitation's execution
    tamper(built_demo, "DELETE FROM meta.audit_log WHERE seq >= ?", [sending])

    verdict = verify(built_demo)
    assert not verdict.ok and f"records {sending}-{last} were cut off the end" in verdict.problem
    # Groundwork goes on writing; the anchor does not follow a trail that was cut
    drafts.reject(store, second, by="maria", reason="not now")
    drafts.reject(store, third, by="maria", reason="not now")
    drafts.reject(store, fourth, by="maria", reason="not now")  # as many records as were cut
    verdict = verify(built_demo)
    assert not verdict.ok and f"record {last} is not the record" in verdict.problem
    # an attacker who also rewrites the anchor is caught by the head the message carries
    with store.reader() as con:
        seq, digest = audit_head(con)
    store.audit_anchor.write_text(json.dumps({"seq": seq, "hash": digest}))
    sent = email.message_from_bytes((built_demo.root / "outbox" / f"{first}.eml").read_bytes())
    assert sent["X-Groundwork-Audit-Head"].startswith(f"{sending}:")
    verdict = verify(built_demo)
    assert not verdict.ok
    assert f"{first}.eml was sent when the trail's head was record {sending}" in verdict.problem


def test_unusable_recipients_fail_one_by_one_and_the_others_go_out(
    built_demo: DemoProject,
) -> None:
    store, config = built_demo.store, built_demo.config
    attacks = [
        "a@x.com, attacker@evil.example",
        "a@x.com\r\nBcc: attacker@evil.example",
        "not-an-address",
        "a@x.com; b@y.com",
    ]
    chosen = pending(built_demo)[: len(attacks) + 1]
    for draft_id, _ in chosen:
        drafts.approve(store, config, draft_id, by="maria")
    for (_, subject), value in zip(chosen, attacks, strict=False):
        tamper(
            built_demo,
            "UPDATE unified.customer SET email = ? WHERE customer_id = ?",
            [value, subject],
        )

    cli = subprocess.run(
        [sys.executable, "-m", "hub.cli", "deliver"],
        cwd=built_demo.root,
        capture_output=True,
        text=True,
        timeout=120,
        env={**os.environ},
    )

    good = chosen[-1][0]
    assert cli.returncode == 1, cli.stdout + cli.stderr
    assert outbox(built_demo) == [good] and statuses(built_demo)[good] == "delivered"
    for draft_id, _ in chosen[:-1]:
        assert statuses(built_demo)[draft_id] == "failed"
        assert f"draft {draft_id} failed:" in " ".join(cli.stdout.split())
    assert "evil" not in cli.stdout and "a@x.com" not in cli.stdout
    failed = steward(
        "SELECT target, details FROM meta.audit_log WHERE action = 'draft.deliver_failed'"
    )
    assert sorted(failed.target) == sorted(d for d, _ in chosen[:-1])
    assert all("evil" not in d for d in failed.details)
    assert verify(built_demo).ok  # every status change went through the trail


def test_approval_refuses_an_unusable_recipient(built_demo: DemoProject) -> None:
    (draft_id, subject), *_ = pending(built_demo)
    tamper(
        built_demo,
        "UPDATE unified.customer SET email = 'a@x.com, attacker@evil.example' "
        "WHERE customer_id = ?",
        [subject],
    )
    with pytest.raises(DraftError, match="holds 2 addresses, not one") as refused:
        drafts.approve(built_demo.store, built_demo.config, draft_id, by="maria")
    assert "evil" not in str(refused.value)
    assert statuses(built_demo)[draft_id] == "pending"


def test_a_draft_id_never_reaches_a_path_outside_the_outbox(built_demo: DemoProject) -> None:
    (draft_id, _), *_ = pending(built_demo)
    escape = "../../escaped"
    tamper(
        built_demo,
        "UPDATE agents.drafts SET draft_id = ?, status = 'approved' WHERE draft_id = ?",
        [escape, draft_id],
    )

    [outcome] = deliver_approved(built_demo.config, built_demo.store)

    assert outcome.status == "failed" and "not a Groundwork draft id" in outcome.detail
    assert not list(built_demo.root.parent.rglob("escaped*"))
    assert outbox(built_demo) == []


def test_one_live_draft_per_subject_when_a_human_approves_during_a_run(
    built_demo: DemoProject,
) -> None:
    store, config = built_demo.store, built_demo.config
    (approved, subject), *_ = pending(built_demo)
    config.agents["onboarding"].instructions += "\nMention the kick-off date first."
    # the agent runs on new instructions (it read the decided subjects before the approval)
    new = run_agent(
        config,
        "onboarding",
        skip=drafts.decided_subjects(store, "onboarding"),
        drafted=drafts.drafted_inputs(store, "onboarding"),
    )
    assert len(new) == 12  # every subject's inputs changed
    # ... a human approves the subject's current draft meanwhile ...
    drafts.approve(store, config, approved, by="maria")
    # ... and the agent's results land
    written = drafts.record(store, "onboarding", new, run_id="test")

    assert len(written) == len(new) - 1
    assert subject not in {d.subject_id for d in new if d.draft_id in written}
    live = steward(
        "SELECT status FROM agents.drafts WHERE subject_id = ? "
        "AND status IN ('pending', 'approved')",
        [subject],
    )
    assert list(live.status) == ["approved"]
    superseded = next(d for d, s in statuses(built_demo).items() if s == "superseded")
    with pytest.raises(
        DraftError, match=r"is superseded \(superseded by D-\w+: inputs changed: instructions\)"
    ):
        drafts.approve(store, config, superseded, by="maria")
    assert verify(built_demo).ok


def test_cli_asks_before_approving_a_flagged_draft(built_demo: DemoProject) -> None:
    (pending_id, subject), *_ = pending(built_demo)
    flagged = drafts.NewDraft(
        draft_id="D-0123456789",
        subject_id=subject,
        subject_name="Flagged Co",
        title="Welcome",
        body="Dear team,\nPay to IBAN DE89 3704 0044 0532 0130 00\n",
        citations={},
        tool_calls=[],
        review_reasons=["line 2: an IBAN, payment instructions: Pay to IBAN DE89…"],
        prompt="test",
        mode="offline",
        model="offline",
        trace_id="t",
    )
    assert drafts.record(built_demo.store, "onboarding", [flagged], "test") == [flagged.draft_id]
    assert statuses(built_demo)[pending_id] == "superseded"
    draft_id = flagged.draft_id

    def cli(*extra: str) -> subprocess.CompletedProcess:
        return subprocess.run(
            [sys.executable, "-m", "hub.cli", "approve", draft_id, "--by", "maria", *extra],
            cwd=built_demo.root,
            capture_output=True,
            text=True,
            stdin=subprocess.DEVNULL,
            timeout=60,
        )

    refused = cli()
    assert refused.returncode == 2, refused.stdout
    assert "needs_review" in refused.stdout and "line 2: an IBAN" in refused.stdout
    assert statuses(built_demo)[draft_id] == "pending"
    approved = cli("--yes")
    assert approved.returncode == 0, approved.stdout
    assert statuses(built_demo)[draft_id] == "approved"


def test_draft_ids_have_one_shape() -> None:
    assert drafts.DRAFT_ID.fullmatch("D-0123456789")
    for bad in ("../../x", "D-0123456789/..", "D-01234567890", "D-0123456789\n", "D-012345678g"):
        assert not drafts.DRAFT_ID.fullmatch(bad)


def test_a_deleted_anchor_is_not_quietly_replaced(built_demo: DemoProject) -> None:
    store = built_demo.store
    (first, _), (second, _), *_ = pending(built_demo)
    last = int(steward("SELECT max(seq) AS n FROM meta.audit_log").n[0])
    tamper(built_demo, "DELETE FROM meta.audit_log WHERE seq = ?", [last])  # `agent.run`
    store.audit_anchor.unlink()  # the attacker hides the cut by removing the anchor

    drafts.reject(store, first, by="maria", reason="not now")  # Groundwork writes on
    verdict = verify(built_demo)
    assert not verdict.ok and "the head anchor" in verdict.problem and "missing" in verdict.problem
    assert not store.audit_anchor.exists()

    cli = subprocess.run(
        [sys.executable, "-m", "hub.cli", "audit", "anchor", "--by", "maria", "--reason", "x"],
        cwd=built_demo.root,
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert cli.returncode == 0, cli.stdout + cli.stderr
    assert verify(built_demo).ok
    accepted = steward(
        "SELECT actor, details FROM meta.audit_log WHERE action = 'audit.anchor'"
    ).iloc[0]
    assert accepted.actor == "human:maria" and json.loads(accepted.details)["reason"] == "x"
    drafts.reject(store, second, by="maria", reason="not now")
    assert verify(built_demo).ok  # and the anchor follows the trail again


def test_a_draft_changed_outside_groundwork_cannot_be_approved(built_demo: DemoProject) -> None:
    (edited, _), (reflagged, _), (recited, _), *_ = pending(built_demo)
    tamper(
        built_demo,
        'UPDATE agents.drafts SET citations = \'{"documents": ["approved-by-legal"]}\' '
        "WHERE draft_id = ?",
        [recited],
    )
    tamper(
        built_demo,
        "UPDATE agents.drafts SET body = 'Pay to IBAN DE89370400440532013000' WHERE draft_id = ?",
        [edited],
    )
    tamper(
        built_demo,
        "UPDATE agents.drafts SET needs_review = true, review_reasons = '[\"x\"]' "
        "WHERE draft_id = ?",
        [reflagged],
    )
    for draft_id, what in (
        (edited, "title or body"),
        (reflagged, "review flags"),
        (recited, "citations, tool calls, model or other details"),
    ):
        with pytest.raises(DraftError, match=f"cannot be approved: its {what} differ"):
            drafts.approve(built_demo.store, built_demo.config, draft_id, by="maria")
        assert statuses(built_demo)[draft_id] == "pending"
    verdict = verify(built_demo)
    assert not verdict.ok and "differs from what the agent wrote" in verdict.problem


@pytest.mark.parametrize(
    "value",
    [
        "a@x.com, attacker@evil.example",
        "a@x.com\r\nBcc: attacker@evil.example",
        "FATIMA.GARCIA@BRIGHTWATER\u2028HEALTH.COM",
        "a@b.co\x00",
        "a@.b.co",
        "a@b..co",
        "a@-b.co",
        "josé@example.com",
        "Jane <a@x.com>",
        "a@b.com\x85",
        "a@b.com\u00a0",
        "\u3000a@b.com",
        "a@b.com\t",
        "x" * 65 + "@b.com",
        "a@x.com; b@y.com",
        "not-an-address",
        "",
        None,
    ],
)
def test_only_exactly_one_plain_address_is_usable(value: object) -> None:
    address, why = usable_address(value)
    assert address is None and why
    assert "evil" not in why and "a@x.com" not in why


def test_a_plain_address_is_usable() -> None:
    assert usable_address(" x.y+z@sub.example.co.uk ") == ("x.y+z@sub.example.co.uk", "")
