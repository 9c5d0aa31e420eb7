"""Declarative automation never launches an agent on unproven data: agent assets (and
anything `gated: true`) run on an updated input only once its blocking checks passed."""

from __future__ import annotations

import dagster as dg
import pytest

from assets import build_definitions
from assets.keys import gated_automation
from hub.config import load_config
from hub.runner import dagster_instance, materialize
from tests.conftest import DemoProject

AGENT = dg.AssetKey(["agents", "onboarding"])


def requested_after_serving(project: DemoProject) -> int:
    """Evaluate the agent's condition, re-serve its subjects (with their checks), evaluate
    again: how many runs of the agent automation would launch."""
    defs = build_definitions(load_config(project.config_path), str(project.config_path))
    instance = dagster_instance(project.root)
    selection = dg.AssetSelection.assets(AGENT)
    first = dg.evaluate_automation_conditions(defs, instance, asset_selection=selection)
    materialize(project.config_path, ["serve/clients"])
    second = dg.evaluate_automation_conditions(
        defs, instance, asset_selection=selection, cursor=first.cursor
    )
    return second.get_num_requested(AGENT)


def test_proven_input_launches_the_agent(built_demo: DemoProject) -> None:
    assert requested_after_serving(built_demo) == 12  # one partition per client


def test_failed_blocking_check_on_an_input_does_not(built_demo: DemoProject) -> None:
    text = built_demo.config_path.read_text()
    blocking = (
        "  serve.clients:\n"
        "    - expect: expect_table_row_count_to_be_between\n"
        "      kwargs: {max_value: 1}\n"
        "      name: at_most_one_client\n"
    )
    built_demo.config_path.write_text(text.replace("  serve.clients:\n", blocking, 1))
    assert requested_after_serving(built_demo) == 0


@pytest.mark.parametrize("section", ["entities", "serve"])
def test_gated_assets_carry_the_condition(built_demo: DemoProject, section: str) -> None:
    config = load_config(built_demo.config_path)
    name = next(iter(getattr(config, section)))
    key = dg.AssetKey(["unified" if section == "entities" else "serve", name])

    def condition() -> dg.AutomationCondition | None:
        defs = build_definitions(config, str(built_demo.config_path))
        return defs.resolve_assets_def(key).automation_conditions_by_key.get(key)

    assert condition() is None  # not gated: runs when a job or a person runs it
    getattr(config, section)[name].gated = True
    assert condition() == gated_automation()
    assert defs_condition_of_agent(built_demo) == gated_automation()


def defs_condition_of_agent(project: DemoProject) -> dg.AutomationCondition | None:
    defs = build_definitions(load_config(project.config_path), str(project.config_path))
    return defs.resolve_assets_def(AGENT).automation_conditions_by_key.get(AGENT)
