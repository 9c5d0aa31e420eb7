"""End to end on the demo: sources -> store -> checks -> gate -> agent -> approval -> outbox."""

from __future__ import annotations

import json

import dagster as dg
import pytest

import hub
from assets.delivery import approved_drafts_sensor
from hub import audit
from hub.delivery import deliver_approved
from hub.drafts import DraftError, approve, list_drafts, reject
from hub.resource import HubResource
from hub.runner import materialize, run_job
from tests.conftest import DemoProject, steward


def test_clean_data_one_pending_draft_per_client(built_demo: DemoProject) -> None:
    drafts = steward("SELECT * FROM agents.drafts ORDER BY subject_name")
    clients = steward("SELECT count(*) AS n FROM raw.crm__clients").n[0]
    assert len(drafts) == clients == 12
    assert set(drafts.status) == {"pending"}
    assert not drafts.needs_review.any()  # the demo's own notes raise no review flag
    assert set(drafts["mode"]) == {"offline"}
    first = drafts.iloc[0]
    citations = json.loads(first.citations)
    assert citations["documents"] and citations["sql"]
    assert first.subject_name in first.body
    # the agent only ever saw masked contact data
    served = hub.sql("SELECT email, phone FROM clients", audience="agent")
    assert served.email.str.contains(r"^.\*\*\*@").all()
    assert served.phone.str.startswith("***").all()


def test_dirty_data_stops_the_agent_and_names_the_checks(demo_project: DemoProject) -> None:
    demo_project.generate(dirty=True)

    report = materialize(demo_project.config_path)

    assert not report.success
    assert set(report.unexpected_failures()) == set()  # only checks failed
    failed = steward(
        "SELECT table_name || ':' || check_name AS c FROM meta.check_results WHERE NOT passed"
    ).c
    assert set(failed) == {
        "raw.crm__clients:unique__client_id",
        "raw.billing__invoices:references__account_id",
        "raw.billing__invoices:rejects",
    }
    assert steward("SELECT count(*) AS n FROM agents.drafts").n[0] == 0
    # the two malformed CRM e-mails are signups of their own: blocked, kept in rejects,
    # and out of the table, so its e-mail check passes for everyone else
    blocked = steward("SELECT signup_key, reason FROM agents.cases WHERE status = 'blocked'")
    assert len(blocked) == 2
    assert blocked.reason.str.contains("not a valid e-mail address").all()
    kept = steward("SELECT location FROM rejects.crm__clients")
    assert sorted(kept.location) == sorted(f"client_id={k}" for k in blocked.signup_key)
    rejected = steward("SELECT location, reason, record FROM rejects.billing__invoices")
    assert len(rejected) == 1 and "line" in rejected.location[0]


def test_agent_alone_after_a_failed_blocking_check_is_refused(
    built_demo: DemoProject,
) -> None:
    built_demo.generate(dirty=True)
    # reload only the CRM clients (and their checks): the served data is still the old one
    materialize(built_demo.config_path, ["raw/crm__clients"])

    rebuild = materialize(built_demo.config_path, ["unified/customer"])
    report = materialize(built_demo.config_path, ["agents/onboarding"])

    assert (
        "raw.crm__clients: check unique__client_id failed" in rebuild.failures["unified__customer"]
    )  # nothing is built from unproven data either

    assert not report.success
    why = report.failures["agents__onboarding"]
    assert "foundation gate closed" in why
    assert "raw.crm__clients: check unique__client_id failed" in why
    pending = steward("SELECT count(*) AS n FROM agents.drafts WHERE status = 'pending'").n[0]
    assert pending == 12  # the earlier drafts, no new ones
    refusals = steward("SELECT target FROM meta.audit_log WHERE action = 'gate.refused'")
    assert list(refusals.target) == ["unified.customer", "agent onboarding"]


def test_reloading_a_referenced_table_makes_the_foreign_key_verdict_stale(
    built_demo: DemoProject,
) -> None:

    assert materialize(built_demo.config_path, ["raw/billing__accounts"]).success
    report = materialize(built_demo.config_path, ["agents/onboarding"])

    assert (
        "raw.billing__invoices: check references__account_id has not run on the current"
        in (report.failures["agents__onboarding"])
    )


def test_a_failed_unified_build_keeps_the_agents_stopped(built_demo: DemoProject) -> None:
    # billing renames a column the customer entity maps: the load and its checks pass (the
    # schema check warns under `evolve`), the unified build cannot run
    accounts = built_demo.root / "demo" / "billing" / "accounts.csv"
    accounts.write_text(accounts.read_text().replace("company_name", "company", 1))

    first = materialize(built_demo.config_path)
    later = materialize(built_demo.config_path, ["agents/onboarding"])

    assert "company_name" in first.failures["unified__customer"]
    assert "agents__onboarding" not in first.failures  # never started in that run
    why = later.failures["agents__onboarding"]
    assert "unified.customer: its last build failed" in why
    assert "unified.customer: built from batch" in why  # and it lags raw.billing__accounts
    assert "raw.billing__accounts" in why
    assert steward("SELECT count(*) AS n FROM agents.drafts").n[0] == 12  # none new
    build = steward(
        "SELECT passed, details->>'error' AS error FROM meta.check_results "
        "WHERE table_name = 'unified.customer' AND check_name = 'build'"
    )
    assert list(build.passed) == [False] and "company_name" in build.error[0]


def test_a_derived_table_that_lags_its_inputs_is_stale(built_demo: DemoProject) -> None:
    """Reloaded raw data that passes every check still stops the agent until the tables
    built from it are rebuilt: a check that passed on an older batch opens nothing."""
    assert materialize(built_demo.config_path, ["raw/crm__clients"]).success

    report = materialize(built_demo.config_path, ["agents/onboarding"])
    why = report.failures["agents__onboarding"]
    assert "unified.customer: built from batch" in why and "raw.crm__clients" in why
    assert "serve.clients" not in why.partition("unified.customer")[0]
    assert "Nothing failed" in why and "Fix: run `hub run`" in why  # not "fix the data"

    rebuilt = ["unified/customer", "serve/clients", "serve/onboarding_docs", "copies/agent_copy"]
    assert materialize(built_demo.config_path, rebuilt).success
    final = materialize(built_demo.config_path, ["agents/onboarding"])
    assert final.success, final.failures


def test_approval_delivery_exactly_once_and_audit_chain(built_demo: DemoProject) -> None:
    store, config = built_demo.store, built_demo.config
    ids = list(list_drafts(store, "pending").draft_id)
    approve(store, config, ids[0], by="maria")
    reject(store, ids[1], by="maria", reason="wrong kick-off date")
    with pytest.raises(DraftError, match="only pending drafts"):
        approve(store, config, ids[1], by="maria")

    resources = {"hub": HubResource(config_path=str(built_demo.config_path))}
    tick = approved_drafts_sensor.evaluate_tick(dg.build_sensor_context(resources=resources))
    assert [r.run_key for r in tick.run_requests] == [f"deliver:{ids[0]}"]
    assert run_job(built_demo.config_path, "deliver_drafts").success  # what the sensor runs
    assert deliver_approved(config, store) == []  # a second delivery sends nothing
    assert run_job(built_demo.config_path, "deliver_drafts").success

    outbox = sorted((built_demo.root / "outbox").glob("*.eml"))
    assert [p.stem for p in outbox] == [ids[0]]
    tick = approved_drafts_sensor.evaluate_tick(dg.build_sensor_context(resources=resources))
    assert tick.run_requests == []
    message = outbox[0].read_text()
    assert "To: " in message and "***" not in message  # the real address, not the mask
    statuses = dict(steward("SELECT draft_id, status FROM agents.drafts").values.tolist())
    assert statuses[ids[0]] == "delivered" and statuses[ids[1]] == "rejected"
    assert list(list_drafts(store, "pending").draft_id) == ids[2:]

    with store.reader() as con:
        assert audit.verify(con, store.audit_anchor).ok
        actions = {r[0] for r in con.execute("SELECT action FROM meta.audit_log").fetchall()}
    assert {
        "load",
        "checks",
        "build",
        "publish",
        "agent.draft",
        "agent.run",
        "draft.approve",
        "draft.reject",
        "draft.deliver",
    } <= actions

    with store.writer() as con:
        con.execute("UPDATE meta.audit_log SET details = '{}' WHERE action = 'draft.approve'")
        verdict = audit.verify(con, store.audit_anchor)
    assert not verdict.ok and "changed" in verdict.problem


def test_agent_refuses_a_copy_that_is_not_the_proven_data(built_demo: DemoProject) -> None:
    copy = built_demo.root / "data" / "agent.duckdb"
    stale = copy.read_bytes()
    assert materialize(built_demo.config_path, ["serve/clients"]).success  # a new batch
    copy.write_bytes(stale)  # the agents' file now lags behind what the checks proved

    report = materialize(built_demo.config_path, ["agents/onboarding"])

    assert (
        "does not hold the proven data for ['serve.clients']"
        in (report.failures["agents__onboarding"])
    )
