"""Signups as events: `new_signups_sensor` adds one partition per new CRM client and runs
it; the load screens each signup (a blocked one stops that client alone); the agent drafts
for that client only; the same client signing up twice has one case."""

from __future__ import annotations

import sqlite3

import dagster as dg

from assets import build_definitions
from assets.signups import signup_partitions
from hub.config import load_config
from hub.resource import HubResource
from hub.runner import dagster_instance, materialize
from tests.conftest import DemoProject, steward

PARTITIONS = signup_partitions("onboarding").name


def sign_up(project: DemoProject, key: str, company: str, email: str | None) -> None:
    """A row in the CRM's clients table and the client's onboarding note, as a web form
    and an account manager would leave them."""
    with sqlite3.connect(project.root / "demo" / "crm.sqlite") as crm:
        crm.execute(
            "INSERT INTO clients VALUES (?, ?, ?, ?, ?, ?)",
            [key, company, email, "+1 415 555-0199", "health", "2026-11-26"],
        )
    crm.close()
    note = (
        f"---\nclient_id: {key}\n---\n# Onboarding notes: {company}\n\n## Goals\n\n"
        "- Cut claims reconciliation time in half\n\n## Kick-off\n\n"
        "Kick-off proposed for 2026-12-03 with Ada Byron and the project team.\n"
    )
    (project.root / "demo" / "docs" / f"{key.lower()}.md").write_text(note)


CURSORS: dict[str, str | None] = {}


def tick(project: DemoProject, *, restarted: bool = False):  # noqa: ANN201 - sensor result
    """One evaluation of the sensor, as the daemon runs it (with the cursor it kept, or none
    after a restart that lost it); applies its partition requests."""
    cursor = None if restarted else CURSORS.get(str(project.root))
    instance = dagster_instance(project.root)
    hub = HubResource(config_path=str(project.config_path))
    context = dg.build_sensor_context(instance=instance, cursor=cursor, resources={"hub": hub})
    config = load_config(project.config_path)
    sensor = build_definitions(config, str(project.config_path)).resolve_sensor_def(
        "new_signups_sensor"
    )
    result = sensor(context)
    if isinstance(result, dg.SensorResult):
        CURSORS[str(project.root)] = result.cursor
        for request in result.dynamic_partitions_requests or []:
            instance.add_dynamic_partitions(request.partitions_def_name, request.partition_keys)
    return result


def run_signup(project: DemoProject, key: str) -> dg.ExecuteInProcessResult:
    """The run the sensor requested for one client, as the daemon would launch it."""
    config = load_config(project.config_path)
    job = build_definitions(config, str(project.config_path)).resolve_job_def("signup_onboarding")
    return job.execute_in_process(
        instance=dagster_instance(project.root), partition_key=key, raise_on_error=False
    )


def drafts_by_subject() -> dict[str, str]:
    frame = steward("SELECT subject_name, draft_id FROM agents.drafts WHERE status = 'pending'")
    return dict(zip(frame.subject_name, frame.draft_id, strict=True))


def test_a_signup_becomes_one_partition_one_case_one_draft(built_demo: DemoProject) -> None:
    before = drafts_by_subject()
    assert tick(built_demo).skip_message == "no new signups"  # hub run signed up all 12

    sign_up(built_demo, "C013", "Quayside Health Inc", "ada.byron@quaysidehealth.com")
    result = tick(built_demo)
    [request] = result.run_requests
    assert (request.partition_key, request.run_key) == ("C013", "signup:onboarding:C013")
    # picked up once: a later tick asks nothing; a restarted sensor that lost its cursor asks
    # the same run key, which Dagster launches once
    assert isinstance(tick(built_demo), dg.SkipReason)
    assert [r.run_key for r in tick(built_demo, restarted=True).run_requests] == [request.run_key]

    run = run_signup(built_demo, "C013")
    assert run.success
    [drafted] = [
        e.partition
        for e in run.get_asset_materialization_events()
        if e.asset_key.path[0] == "agents"
    ]
    assert drafted == "C013"
    after = drafts_by_subject()
    assert {k: v for k, v in after.items() if k in before} == before  # nothing for the others
    assert set(after) - set(before) == {"Quayside Health Inc"}
    case = steward("SELECT * FROM agents.cases WHERE signup_key = 'C013'").iloc[0]
    assert case.status == "drafted" and case.draft_id == after["Quayside Health Inc"]
    assert case.signed_up_at is not None and case.drafted_at >= case.signed_up_at
    trail = steward(
        "SELECT action FROM meta.audit_log WHERE target = 'onboarding:C013' ORDER BY seq"
    )
    assert list(trail.action) == ["case.open", "case.drafted"]
    # the agent reports the case clock, so the UI can plot it
    materialization = next(
        e for e in run.get_asset_materialization_events() if e.asset_key.path[0] == "agents"
    )
    metadata = materialization.materialization.metadata
    assert metadata["drafts_new"].value == 1 and "hours_to_draft_median" in metadata
    assert metadata["case_status"].value == "awaiting approval"
    assert metadata["hours_signup_to_draft"].value > 0

    # run again on unchanged inputs: the same draft, no new one
    assert run_signup(built_demo, "C013").success
    assert drafts_by_subject() == after

    # the same client signs up again (another CRM row, the same address): one case
    sign_up(built_demo, "C014", "Quayside Health Inc", "Ada.Byron@QuaysideHealth.com")
    [request] = tick(built_demo).run_requests
    again = run_signup(built_demo, request.partition_key)
    assert not again.success
    [failure] = again.get_step_failure_events()
    assert failure.step_key == "agents__onboarding", failure.step_failure_data.error
    assert "same client as C013" in failure.step_failure_data.user_failure_data.description
    # the agent over every client (as `hub run` ends) judges them all again: the first
    # signup keeps its case and its draft
    assert materialize(built_demo.config_path, ["agents/onboarding"]).success
    cases = steward("SELECT signup_key, status FROM agents.cases WHERE signup_key > 'C012'")
    assert dict(zip(cases.signup_key, cases.status, strict=True)) == {
        "C013": "drafted",
        "C014": "duplicate",
    }
    # the second signup's note is the client's now: one live draft, redrafted for it
    [(live, why)] = steward(
        "SELECT draft_id, drafted_because FROM agents.drafts "
        "WHERE subject_name = 'Quayside Health Inc' AND status = 'pending'"
    ).itertuples(index=False)
    assert "documents (added c014.md)" in why


def test_a_blocked_signup_stops_that_client_alone(built_demo: DemoProject) -> None:
    sign_up(built_demo, "C013", "Quayside Health Inc", "ada.byron(at)quaysidehealth.com")
    sign_up(built_demo, "C014", "Tidewater Mutual LLC", None)
    sign_up(built_demo, "C015", "Lighthouse Capital Ltd", "grace.hopper@lighthousecap.com")
    # one client at a time, oldest first (two loads at once would race the gate)
    assert [r.partition_key for r in tick(built_demo).run_requests] == ["C013"]
    blocked = run_signup(built_demo, "C013")
    assert not blocked.success
    [failure] = blocked.get_step_failure_events()
    assert failure.step_key == "agents__onboarding"  # the load, checks and builds passed
    why = failure.step_failure_data.user_failure_data.description
    assert "C013" in why and "not a valid e-mail address" in why and "No agent ran" in why
    assert "ada.byron" not in why  # the reason never repeats the address

    # C013's run loaded all three rows: C014 is blocked already (no run for it), C015 waits
    assert [r.partition_key for r in tick(built_demo).run_requests] == ["C015"]
    assert run_signup(built_demo, "C015").success
    assert isinstance(tick(built_demo), dg.SkipReason)  # blocked cases wait for their fix

    cases = steward("SELECT signup_key, status, reason FROM agents.cases WHERE signup_key > 'C012'")
    assert dict(zip(cases.signup_key, cases.status, strict=True)) == {
        "C013": "blocked",
        "C014": "blocked",
        "C015": "drafted",
    }
    assert "has no e-mail address" in cases.reason[cases.signup_key == "C014"].iloc[0]
    rejects = steward("SELECT location, reason, record FROM rejects.crm__clients")
    assert set(rejects.location) == {"client_id=C013", "client_id=C014"}
    assert rejects.record.str.contains("Quayside Health Inc").any()  # the row is kept whole
    assert steward("SELECT count(*) AS n FROM raw.crm__clients WHERE client_id >= 'C013'").n[0] == 1
    subjects = steward("SELECT subject_name FROM agents.drafts").subject_name
    assert "Lighthouse Capital Ltd" in set(subjects)
    assert not {"Quayside Health Inc", "Tidewater Mutual LLC"} & set(subjects)
    failed = steward(
        "SELECT check_name FROM meta.check_results WHERE table_name = 'raw.crm__clients' "
        "AND NOT passed"
    )
    assert failed.empty  # the table's checks (rejects and e-mail included) pass for everyone

    # the blocked client's contact refers to a row held back: that client's problem alone
    with sqlite3.connect(built_demo.root / "demo" / "crm.sqlite") as crm:
        crm.execute(
            "INSERT INTO contacts VALUES ('P9013', 'C013', 'Ada Byron', 'ada@x.io', NULL, 'CTO')"
        )
    crm.close()
    assert materialize(built_demo.config_path, ["raw/crm__contacts"]).success
    reference = steward(
        "SELECT passed, details FROM meta.check_results WHERE table_name = 'raw.crm__contacts' "
        "AND check_name = 'references__client_id' ORDER BY evaluated_at DESC LIMIT 1"
    )
    assert reference.passed[0] and '"held_back_signups": ["C013", "C014"]' in reference.details[0]

    # the refused address is kept for the steward (rejects), nowhere else
    refused = "ada.byron(at)quaysidehealth.com"
    dagster = "".join(
        p.read_bytes().decode("utf-8", "replace")
        for p in (built_demo.root / ".dagster").rglob("*")
        if p.is_file()
    )
    trail = " ".join(steward("SELECT details FROM meta.audit_log").details)
    assert refused not in dagster and refused not in trail

    # the source is fixed: the next load takes the row, and the client is drafted for
    with sqlite3.connect(built_demo.root / "demo" / "crm.sqlite") as crm:
        crm.execute(
            "UPDATE clients SET email = 'ada.byron@quaysidehealth.com' WHERE client_id = 'C013'"
        )
    crm.close()
    assert materialize(built_demo.config_path, ["raw/crm__clients"]).success  # a scheduled load
    status = steward("SELECT status FROM agents.cases WHERE signup_key = 'C013'").status[0]
    assert status == "drafting"
    # a case waiting for its draft with no run going (unblocked here; a run killed after its
    # load leaves the same) is run again by the next tick, once
    [again] = tick(built_demo).run_requests
    assert again.partition_key == "C013" and again.run_key.startswith("signup:onboarding:C013:")
    assert again.tags["dagster/max_runtime"]  # a hung run is ended by run monitoring
    assert run_signup(built_demo, "C013").success
    assert isinstance(tick(built_demo), dg.SkipReason)
    status = steward("SELECT status FROM agents.cases WHERE signup_key = 'C013'").status[0]
    assert status == "drafted"
    actions = steward("SELECT action FROM meta.audit_log WHERE target = 'onboarding:C013'")
    assert list(actions.action) == ["case.blocked", "case.unblocked", "case.drafted"]


def test_a_source_that_cannot_be_read_is_a_skip_with_the_reason(built_demo: DemoProject) -> None:
    (built_demo.root / "demo" / "crm.sqlite").unlink()
    result = tick(built_demo)
    assert isinstance(result, dg.SkipReason)
    assert "agent onboarding: cannot read its signups now" in result.skip_message


def test_an_incremental_load_of_only_a_blocked_signup_keeps_it_and_blocks_its_case(
    built_demo: DemoProject,
) -> None:
    text = built_demo.config_path.read_text()
    incremental = (
        "        primary_key: client_id\n        write: merge\n        cursor: created_at\n"
    )
    built_demo.config_path.write_text(
        text.replace("        primary_key: client_id\n", incremental, 1)
    )
    assert materialize(built_demo.config_path, ["raw/crm__clients"], full_refresh=True).success
    sign_up(built_demo, "C013", "Bad Co", "bad@@x")

    assert materialize(built_demo.config_path, ["raw/crm__clients"]).success

    case = steward("SELECT status FROM agents.cases WHERE signup_key = 'C013'").status
    assert list(case) == ["blocked"]
    kept = steward("SELECT location FROM rejects.crm__clients").location
    assert list(kept) == ["client_id=C013"]
