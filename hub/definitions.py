"""The Dagster code location: assembled from hub.yaml by the factories in `assets/`.

`workspace.yaml` loads this module; `hub ui` runs `dagster dev` with it.
"""

from __future__ import annotations

import dagster as dg

from assets.agents import agent_assets
from assets.checks import asset_checks
from assets.delivery import approved_drafts_sensor, deliver_drafts
from assets.raw import raw_assets
from assets.schedules import jobs_and_schedules
from assets.serve import serve_assets
from assets.unified import unified_assets
from hub.config import HubConfig, config_path, load_config
from hub.resource import HubResource


def build_definitions(config: HubConfig, path: str) -> dg.Definitions:
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
        resources={"hub": HubResource(config_path=path)},
    )


defs = build_definitions(load_config(), str(config_path()))
