"""Jobs and schedules: the whole graph on demand, and each source on its own cron."""

import dagster as dg

from hub.config import ConfigError, HubConfig

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
            selection=dg.AssetSelection.key_prefixes(["raw", source]).downstream(),
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
