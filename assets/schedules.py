"""Jobs and schedules: the whole graph on demand, each source on its own cron, and a
freshness check on every table of a scheduled source, due by its cron."""

import warnings

import dagster as dg

from assets.keys import key_for_table
from assets.signups import partitioned_agents
from hub.config import ConfigError, HubConfig
from hub.cron import longest_gap

ALL_ASSETS_JOB = "all_assets"


def jobs_and_schedules(config: HubConfig) -> tuple[list, list[dg.ScheduleDefinition]]:
    everything = dg.define_asset_job(
        ALL_ASSETS_JOB,
        selection=dg.AssetSelection.all(),
        description="Load every source, unify, check, publish, and let the agents draft.",
    )
    jobs: list = [everything]
    schedules = []
    for source, source_config in config.sources.items():
        if not source_config.schedule:
            continue
        job = dg.define_asset_job(
            f"refresh_{source}",
            selection=dg.AssetSelection.assets(
                *(key_for_table(f"raw.{source}__{table}") for table in source_config.tables)
            ).downstream()
            # an agent drafting per client runs per signup (new_signups_sensor), not here
            - dg.AssetSelection.assets(*partitioned_agents(config).values()),
            description=f"Reload source {source} and everything built from it.",
        )
        jobs.append(job)
        try:
            schedule = dg.ScheduleDefinition(
                name=f"refresh_{source}_schedule",
                job=job,
                cron_schedule=source_config.schedule,
                default_status=dg.DefaultScheduleStatus.STOPPED,
            )
        except dg.DagsterInvalidDefinitionError:
            raise ConfigError(
                f"{config.root / 'hub.yaml'}: sources.{source}.schedule: "
                f"{source_config.schedule!r} is not a cron expression. Fix: write five fields, "
                'e.g. "0 6 * * *" (every day at 06:00).'
            ) from None
        schedules.append(schedule)
    return jobs, schedules


def freshness_checks(config: HubConfig) -> list[dg.AssetChecksDefinition]:
    """Dagster freshness checks: each table of a scheduled source must have been loaded
    since the tick before the latest one (one missed refresh makes it overdue). Warnings in
    Dagster, evaluated by the `freshness_checks_sensor`; the gate reads the data's own
    checks, not the clock. (Checks rather than the newer `FreshnessPolicy`, which Dagster's
    daemon evaluates without a check to list beside the others.)"""
    checks: list[dg.AssetChecksDefinition] = []
    for source, source_config in config.sources.items():
        if not source_config.schedule:
            continue
        with warnings.catch_warnings(category=dg.SupersessionWarning, action="ignore"):
            checks += dg.build_last_update_freshness_checks(
                assets=[key_for_table(f"raw.{source}__{table}") for table in source_config.tables],
                deadline_cron=source_config.schedule,
                lower_bound_delta=longest_gap(source_config.schedule),
            )
    return checks
