"""The gate's rules on a small project, through real Dagster runs: a warning never blocks, an
errored check blocks, and a verdict on an older batch does not open the gate for a newer one."""

from __future__ import annotations

from pathlib import Path

import pytest
from typer.testing import CliRunner

from hub import gate
from hub.cli import app
from hub.config import load_config
from hub.runner import materialize
from tests.sources import Project

ITEMS = "id,name,amount\n1,alpha,10\n2,beta,-5\n3,gamma,7\n"


SOURCES = {"ops": {"kind": "files", "path": "exports", "tables": {"items": {"primary_key": "id"}}}}
ITEM = {
    "fields": {"name": {}},
    "match_on": ["name"],
    "sources": [{"table": "ops__items", "id": "id", "fields": {"name": "name"}}],
}
WARNING = {
    "expect": "expect_column_values_to_be_between",
    "kwargs": {"column": "amount", "min_value": 0},
    "severity": "warn",
    "name": "amount_not_negative",
}


@pytest.fixture
def project(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Project:
    monkeypatch.setenv("DAGSTER_HOME", str(tmp_path / ".dagster"))
    (tmp_path / "exports").mkdir()
    (tmp_path / "exports" / "items.csv").write_text(ITEMS)
    return Project(tmp_path, SOURCES, entities={"item": ITEM}, checks={"raw.ops__items": [WARNING]})


def build_gate(project: Project) -> gate.GateVerdict:
    config = load_config(project.root / "hub.yaml")
    with project.store.reader() as con:
        return gate.evaluate_build(con, config, "unified.item")


def hub_checks(project: Project) -> tuple[int, str]:
    config = str(project.root / "hub.yaml")
    result = CliRunner().invoke(app, ["checks", "raw.ops__items", "--config", config])
    return result.exit_code, result.output


@pytest.mark.slow  # runs Dagster
def test_a_failing_warning_never_blocks(project: Project) -> None:
    report = materialize(project.root / "hub.yaml", ["raw/ops__items"])

    assert report.success, report.failures
    exit_code, shown = hub_checks(project)
    assert "amount_not_negative" in shown and "failed" in shown
    assert exit_code == 0, shown  # only a warning failed
    assert build_gate(project).open
    assert materialize(project.root / "hub.yaml", ["unified/item"]).success


@pytest.mark.slow  # runs Dagster
def test_an_errored_check_blocks(project: Project) -> None:
    missing_column = {
        "expect": "expect_column_values_to_not_be_null",
        "kwargs": {"column": "price"},
    }
    project.write(SOURCES, entities={"item": ITEM}, checks={"raw.ops__items": [missing_column]})

    materialize(project.root / "hub.yaml", ["raw/ops__items"])

    verdict = build_gate(project)
    assert not verdict.open
    assert verdict.problems == [
        "raw.ops__items: check not_null__price could not be evaluated (error)"
    ]
    exit_code, shown = hub_checks(project)
    assert exit_code == 1 and "errored" in shown
    rebuild = materialize(project.root / "hub.yaml", ["unified/item"])
    assert "not_null__price could not be evaluated" in rebuild.failures["unified__item"]


@pytest.mark.slow  # runs Dagster
def test_a_verdict_on_an_older_batch_does_not_open_the_gate(project: Project) -> None:
    assert materialize(project.root / "hub.yaml", ["raw/ops__items"]).success
    assert build_gate(project).open

    (project.root / "exports" / "items.csv").write_text(ITEMS + "3,delta,1\n")  # id 3 twice
    project.load("ops", "items")  # a new batch whose checks have not run

    problems = build_gate(project).problems
    assert "raw.ops__items: check unique__id has not run on the current data" in problems
    exit_code, shown = hub_checks(project)
    assert exit_code == 1 and "stale" in shown
    assert not materialize(project.root / "hub.yaml", ["unified/item"]).success
