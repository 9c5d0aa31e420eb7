"""Materialize the graph from the command line, as a Dagster run the UI shows afterwards.

Runs go to the Dagster instance in `$DAGSTER_HOME` (default `.dagster/` beside hub.yaml),
the same one `hub ui` opens, so every CLI run appears in the UI's run history.
"""

from __future__ import annotations

import os
from collections import defaultdict
from dataclasses import dataclass, field
from pathlib import Path

from hub.secrets import scrub

QUIET = {"loggers": {"console": {"config": {"log_level": "CRITICAL"}}}}
"The summary reports what matters; the full event log is in the Dagster UI."
STAGES = ("load", "checks", "unify", "serve", "agents", "deliver")


@dataclass
class RunReport:
    run_id: str
    success: bool
    failures: dict[str, str] = field(default_factory=dict)
    "step key -> why it failed"
    seconds: dict[str, float] = field(default_factory=dict)
    "stage -> seconds spent in its steps"

    def unexpected_failures(self) -> dict[str, str]:
        """Failures other than checks that found bad data (what the dirty demo expects)."""
        return {
            step: why
            for step, why in self.failures.items()
            if not (_stage(step) == "checks" and "DagsterAssetCheckFailedError" in why)
        }


def dagster_instance(root: Path):  # noqa: ANN201 - dagster.DagsterInstance
    import dagster as dg

    home = Path(os.environ.setdefault("DAGSTER_HOME", str(root / ".dagster")))
    home.mkdir(parents=True, exist_ok=True)
    (home / "dagster.yaml").touch()
    return dg.DagsterInstance.get()


def materialize(
    config_path: Path, selection: list[str] | None = None, *, full_refresh: bool = False
) -> RunReport:
    """Run the `all_assets` job (or the assets named `layer/name[/table]`) in process;
    `full_refresh` makes raw assets start over (replace, cursors forgotten)."""
    import dagster as dg

    from assets.raw import FULL_REFRESH_TAG
    from assets.schedules import ALL_ASSETS_JOB

    keys = [dg.AssetKey(s.split("/")) for s in selection] if selection else None
    tags = {FULL_REFRESH_TAG: "true"} if full_refresh else None
    return run_job(config_path, ALL_ASSETS_JOB, keys, tags)


def run_job(
    config_path: Path,
    job_name: str,
    asset_selection: list | None = None,
    tags: dict[str, str] | None = None,
) -> RunReport:
    """Run one job of the project in process, recorded in the shared Dagster instance."""
    from assets import build_definitions
    from hub.config import load_config

    config = load_config(config_path)
    defs = build_definitions(config, str(config_path))
    instance = dagster_instance(config.root)
    result = defs.resolve_job_def(job_name).execute_in_process(
        instance=instance,
        asset_selection=asset_selection,
        raise_on_error=False,
        run_config=QUIET,
        tags=tags,
    )
    return _report(instance, result)


def _report(instance, result) -> RunReport:  # noqa: ANN001
    report = RunReport(run_id=result.run_id, success=result.success)
    started: dict[str, float] = {}
    seconds: dict[str, float] = defaultdict(float)
    for entry in instance.all_logs(result.run_id):
        event = entry.dagster_event
        if event is None or event.step_key is None:
            continue
        if event.event_type_value == "STEP_START":
            started[event.step_key] = entry.timestamp
        elif event.event_type_value in ("STEP_SUCCESS", "STEP_FAILURE"):
            start = started.pop(event.step_key, entry.timestamp)
            seconds[_stage(event.step_key)] += entry.timestamp - start
        if event.event_type_value == "STEP_FAILURE":
            data = event.event_specific_data
            user = getattr(data, "user_failure_data", None)
            why = user.description if user and user.description else _root_cause(data.error)
            report.failures[event.step_key] = scrub(why)
    report.seconds = {s: round(seconds[s], 2) for s in STAGES if s in seconds}
    return report


def _root_cause(error) -> str:  # noqa: ANN001 - dagster SerializableErrorInfo
    """The user's exception under Dagster's "Error occurred while executing op" wrapper."""
    while error.cause is not None:
        error = error.cause
    return error.message.strip()  # "ValueError: ..." (format_exception_only)


def _stage(step_key: str) -> str:
    own, references = step_key.endswith("__checks"), "__references__" in step_key
    if own or references or step_key.startswith("freshness_check"):
        return "checks"
    layer = step_key.split("__", 1)[0]
    return {"raw": "load", "unified": "unify", "serve": "serve", "agents": "agents"}.get(
        layer, "deliver"
    )
