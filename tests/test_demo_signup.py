"""`hub demo signup`: a new client in the demo CRM (a client, its contact, its note); `hub
run` drafts for it alone and `hub status` lists its case with its age; a signup without a
usable e-mail is blocked, with the reason, and holds nobody else up."""

from __future__ import annotations

import json
import os
import re
import shutil
import sqlite3
import subprocess
import sys
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest

from hub import cli
from hub.config import load_config
from hub.demo import DEMO_CONFIG
from hub.demo.generate import generate, sign_up
from hub.report import Status, human_age, next_steps
from hub.report import status as store_status
from tests.conftest import DemoProject

CLEARED = ("HUB_CONFIG", "SUPPORT_API_URL", "HUB_DEBUG", "HUB_LLM_PROVIDER", "HUB_LLM_MODEL")


def hub(*args: str, cwd: Path) -> subprocess.CompletedProcess[str]:
    """`hub ARGS` in `cwd` as a user types it there: its hub.yaml, its Dagster home, output
    as wide as it needs (a message is one line)."""
    env = {k: v for k, v in os.environ.items() if k not in CLEARED}
    env |= {"DAGSTER_HOME": str(cwd / ".dagster"), "COLUMNS": "1000"}
    return subprocess.run(
        [sys.executable, "-m", "hub.cli", *args],
        cwd=cwd,
        env=env,
        capture_output=True,
        text=True,
        timeout=300,
    )


def crm_counts(root: Path) -> dict[str, int]:
    with sqlite3.connect(root / "demo" / "crm.sqlite") as crm:
        clients = crm.execute("SELECT count(*) FROM clients").fetchone()[0]
        contacts = crm.execute("SELECT count(*) FROM contacts").fetchone()[0]
    crm.close()
    notes = len(list((root / "demo" / "docs").glob("*.md")))
    return {"clients": clients, "contacts": contacts, "notes": notes}


@dataclass
class Story:
    """One built demo, signed up to and run: a valid signup and two blocked ones."""

    project: DemoProject
    counts: list[dict[str, int]] = field(default_factory=list)
    said: dict[str, subprocess.CompletedProcess[str]] = field(default_factory=dict)
    drafts: list[dict[str, tuple[str, str]]] = field(default_factory=list)
    "draft_id -> (subject_name, status): before the signups, after the run"

    def read(self, query: str) -> list[tuple]:
        with self.project.store.reader() as con:
            return con.execute(query).fetchall()

    def snapshot_drafts(self) -> None:
        rows = self.read("SELECT draft_id, subject_name, status FROM agents.drafts")
        self.drafts.append({d: (name, status) for d, name, status in rows})

    def status(self, key: str) -> dict:
        """`hub status --json`'s open cases by client, after the phase `key`."""
        return {c["client"]: c for c in json.loads(self.said[key].stdout)["open_cases"]}


@pytest.fixture(scope="module")
def story(built_demo_template: Path, tmp_path_factory: pytest.TempPathFactory) -> Story:
    root = tmp_path_factory.mktemp("signup") / "project"
    shutil.copytree(built_demo_template, root)
    told = Story(DemoProject(root, write_config=False))
    told.counts.append(crm_counts(root))
    told.snapshot_drafts()
    told.said["signup"] = hub(
        "demo", "signup", "--name", "Quayside Health Inc", "--email",
        "ada.byron@quaysidehealth.com", cwd=root,
    )  # fmt: skip
    told.counts.append(crm_counts(root))
    told.said["invalid"] = hub(
        "demo", "signup", "--name", "Tidewater Mutual LLC", "--email", "not-an-address", cwd=root
    )
    told.said["none"] = hub("demo", "signup", "--name", "Lighthouse Capital Ltd", cwd=root)
    # one run for the three (each `hub run` of the demo takes about ten seconds)
    told.said["run"] = told.said["run.blocked"] = hub("run", cwd=root)
    told.snapshot_drafts()
    told.said["status"] = told.said["status.blocked"] = hub("status", cwd=root)
    told.said["status.json"] = told.said["status.blocked.json"] = hub("status", "--json", cwd=root)
    return told


def test_a_signup_adds_one_client_one_contact_one_note(story: Story) -> None:
    said = story.said["signup"]
    assert said.returncode == 0, said.stdout + said.stderr
    before, after = story.counts[:2]
    assert {k: after[k] - before[k] for k in after} == {"clients": 1, "contacts": 1, "notes": 1}
    assert "Signed up C013 Quayside Health Inc" in said.stdout
    for step in (" ui ", "new_signups_sensor", "30 s", " run ", " status ", " approve ID --by"):
        assert step in said.stdout, step


def test_hub_run_drafts_once_for_that_client_and_status_shows_its_case(story: Story) -> None:
    run = story.said["run"]
    assert run.returncode == 0, run.stdout + run.stderr
    before, after = story.drafts[:2]
    [new] = set(after) - set(before)
    assert after[new] == ("Quayside Health Inc", "pending")
    assert {d: after[d] for d in before} == before  # the other drafts as they were

    case = story.status("status.json")["C013"]
    assert (case["status"], case["draft_id"]) == ("awaiting approval", new)
    assert case["subject_name"] == "Quayside Health Inc" and re.fullmatch(r"\d+ min", case["age"])
    row = next(line for line in story.said["status"].stdout.splitlines() if "C013" in line)
    assert "awaiting approval" in row and new in row and re.search(r"\d+ min", row)
    assert "C001" in story.status("status.json")  # the demo's own clients await approval too


def test_blocked_signups_say_why_and_hold_nobody_up(story: Story) -> None:
    for key in ("invalid", "none"):
        said = story.said[key]
        assert said.returncode == 0 and "is not usable" in said.stdout, said.stdout
    cases = story.status("status.blocked.json")
    assert (cases["C014"]["status"], cases["C015"]["status"]) == ("blocked", "blocked")
    assert "not a valid e-mail address" in cases["C014"]["reason"]
    assert "has no e-mail address" in cases["C015"]["reason"]
    shown = story.said["status.blocked"].stdout
    assert "✗ signup C014 blocked: the address is not a valid e-mail address" in shown
    assert "✗ signup C015 blocked: the subject has no e-mail address" in shown

    rejected = story.read("SELECT DISTINCT location FROM rejects.crm__clients")
    assert {r[0] for r in rejected} == {"client_id=C014", "client_id=C015"}
    subjects = {name for name, _ in story.drafts[1].values()}
    assert not {"Tidewater Mutual LLC", "Lighthouse Capital Ltd"} & subjects  # no draft for them

    # every step ran and every check passed: the contacts of the clients held back refer to
    # rows kept out on purpose, which their own cases explain
    run = story.said["run.blocked"]
    assert " failed: " not in run.stdout and "Traceback" not in run.stderr
    assert [line for line in run.stdout.splitlines() if "✗" in line] == []
    assert run.returncode == 0


def test_a_store_from_before_cases_shows_no_cases(built_demo: DemoProject) -> None:
    with built_demo.store.transaction() as con:
        con.execute("DROP TABLE agents.cases")
    state = store_status(built_demo.config, built_demo.store)
    assert state.cases == [] and state.as_dict()["open_cases"] == []
    with built_demo.store.reader() as con:  # a reader did not create it
        assert not con.execute(
            "SELECT count(*) FROM information_schema.tables WHERE table_name = 'cases'"
        ).fetchone()[0]


def test_sign_up_writes_what_the_web_form_and_account_manager_would(tmp_path: Path) -> None:
    generate(tmp_path, clients=3)
    now = datetime(2026, 5, 4, 9, 30, 15, tzinfo=UTC)
    first = sign_up(tmp_path, "Quayside Health Inc", "ada.byron@quaysidehealth.com", now=now)
    again = sign_up(tmp_path, "Quayside Health Inc", None, now=now + timedelta(minutes=1))

    assert (first.client.client_id, again.client.client_id) == ("C004", "C005")
    with sqlite3.connect(tmp_path / "crm.sqlite") as crm:
        rows = crm.execute("SELECT * FROM clients ORDER BY client_id").fetchall()
        contact = crm.execute("SELECT * FROM contacts WHERE client_id = 'C004'").fetchall()
    crm.close()
    assert rows[3][:3] == ("C004", "Quayside Health Inc", "ada.byron@quaysidehealth.com")
    assert rows[3][5] == "2026-05-04T09:30:15Z" and rows[4][2] is None
    assert all(old[5] < rows[3][5] for old in rows[:3])  # sorts after the generated dates
    [(_, client_id, person, email, _, _)] = contact
    assert (client_id, person, email) == ("C004", "Ada Byron", "ada.byron@quaysidehealth.com")

    note = first.note.read_text()
    assert first.note.name == "quayside-health.md" and again.note.name == "quayside-health-c005.md"
    assert note.startswith("---\nclient_id: C004\n---\n# Onboarding notes: Quayside Health Inc")
    for section in ("## Goals", "## Integrations", "## Risks", "## Kick-off"):
        assert section in note
    assert "Kick-off proposed for 2026-05-11 with Ada Byron and the project team." in note


def test_signup_outside_a_demo_project_is_one_line_with_the_fix(tmp_path: Path) -> None:
    nowhere = hub("demo", "signup", "--name", "Quayside Health Inc", cwd=tmp_path)
    assert nowhere.returncode == 2
    assert nowhere.stdout.startswith("error: no demo project here") and not nowhere.stderr
    assert len(nowhere.stdout.strip().splitlines()) == 1 and "Fix: run `" in nowhere.stdout
    (tmp_path / "hub.yaml").write_text(
        "project: mine\nsources:\n  a: {kind: files, path: x, tables: {t: {}}}\n"
    )
    other = hub("demo", "signup", "--name", "Quayside Health Inc", cwd=tmp_path)
    assert other.returncode == 2 and "is project 'mine', not the demo" in other.stdout
    assert len(other.stdout.strip().splitlines()) == 1


def test_demo_options_do_not_go_with_signup(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.chdir(tmp_path)
    monkeypatch.setattr(sys, "argv", ["hub", "demo", "--dirty", "signup", "--name", "x"])
    with pytest.raises(SystemExit) as exited:
        cli.main()
    out = capsys.readouterr()
    said = out.out + out.err
    assert exited.value.code == 2 and "Invalid value" in said and "--keep-store" in said
    assert not (tmp_path / "hub.yaml").exists()


def test_the_demo_ends_saying_how_to_sign_up() -> None:
    demo = load_config(DEMO_CONFIG)
    steps = [cmd for cmd, _ in next_steps(demo, Status([], {}, {}, None), False)]
    assert 'demo signup --name "Quayside Health Inc" --email ' in steps[-1]
    assert not any(
        "demo signup" in cmd for cmd, _ in next_steps(demo, Status([], {}, {}, None), True)
    )


def test_ages_read_at_a_glance() -> None:
    assert human_age(timedelta(days=3, hours=4, minutes=59)) == "3 d 4 h"
    assert human_age(timedelta(hours=2, minutes=5)) == "2 h 5 min"
    assert human_age(timedelta(minutes=12, seconds=59)) == "12 min"
    assert human_age(timedelta(seconds=-5)) == "0 min"
