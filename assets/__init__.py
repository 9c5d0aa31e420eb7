"""Dagster assets, checks, jobs, schedules and sensors, built from hub.yaml by one factory
per layer: raw -> unified -> serve -> agents, with quality checks on every table."""

import dagster as dg

from assets.agents import agent_assets
from assets.checks import asset_checks
from assets.delivery import approved_drafts_sensor, deliver_drafts
from assets.raw import raw_assets
from assets.schedules import jobs_and_schedules
from assets.serve import serve_assets
from assets.unified import unified_assets
from hub.config import HubConfig
from hub.resource import HubResource


def build_definitions(config: HubConfig, config_path: str) -> dg.Definitions:
    """Everything Dagster shows for one project: the layers' assets and checks, the jobs,
    the schedules and the delivery sensor, with the project as the `hub` resource."""
    jobs, schedules = jobs_and_schedules(config)
    return dg.Definitions(
        assets=[
            *raw_assets(config),
            *unified_assets(config),
            *serve_assets(config),
            *agent_assets(config),
        ],
        asset_checks=asset_checks(config),
        jobs=[*jobs, deliver_drafts],
        schedules=schedules,
        sensors=[approved_drafts_sensor],
        resources={"hub": HubResource(config_path=config_path)},
    )
