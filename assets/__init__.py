"""Dagster assets, checks, jobs, schedules and sensors, built from hub.yaml by one factory
per layer: raw -> unified -> serve -> agents, with quality checks on every table."""

import warnings

import dagster as dg

from assets.agents import agent_assets
from assets.checks import asset_checks
from assets.copies import copy_assets
from assets.delivery import approved_drafts_sensor, deliver_drafts
from assets.keys import unique_labels
from assets.raw import raw_assets
from assets.schedules import freshness_checks, jobs_and_schedules
from assets.serve import serve_assets
from assets.signups import new_signups_sensor, signup_jobs
from assets.unified import unified_assets
from hub.config import HubConfig
from hub.resource import HubResource


def build_definitions(config: HubConfig, config_path: str) -> dg.Definitions:
    """Everything Dagster shows for one project: the layers' assets and checks, the jobs,
    the schedules, the signup and delivery sensors, with the project as the `hub` resource."""
    jobs, schedules = jobs_and_schedules(config)
    fresh = freshness_checks(config)
    sensors = [approved_drafts_sensor]
    signups = signup_jobs(config)
    if signups:
        sensors.append(new_signups_sensor(signups))
    if fresh:
        with warnings.catch_warnings(category=dg.SupersessionWarning, action="ignore"):
            sensors.append(dg.build_sensor_for_freshness_checks(freshness_checks=fresh))
    assets = [
        *raw_assets(config),
        *unified_assets(config),
        *serve_assets(config),
        *copy_assets(config),
        *agent_assets(config),
    ]
    unique_labels([key for a in assets for key in a.keys])
    return dg.Definitions(
        assets=assets,
        asset_checks=[*asset_checks(config), *fresh],
        jobs=[*jobs, *signups, deliver_drafts],
        schedules=schedules,
        sensors=sensors,
        resources={"hub": HubResource(config_path=config_path)},
        # One DuckDB writer at a time: steps in parallel processes only wait for its lock,
        # and each would import Dagster, GX and LlamaIndex again (benchmarks/ui.py).
        executor=dg.in_process_executor,
    )
