"""Materialize the graph from the command line, as a Dagster run the UI shows afterwards.

Runs go to the project's Dagster instance (`hub.instance`: dagster.yaml beside hub.yaml),
the same one `hub ui` opens, so every CLI run appears in the UI's run history.
"""

from __future__ import annotations

from collections import defaultdict
from dataclasses import dataclass, field
from difflib import get_close_matches
from pathlib import Path

from hub.secrets import scrub

RANGE_START, RANGE_END = "dagster/asset_partition_range_start", "dagster/asset_partition_range_end"
"Run tags of a run over a range of partitions (what a single-run backfill sets)."
QUIET = {"loggers": {"console": {"config": {"log_level": "CRITICAL"}}}}
"The summary reports what matters; the full event log is in the Dagster UI."
STAGES = ("load", "checks", "unify", "serve", "publish", "agents", "deliver")
STAGE_OF_LAYER = {
    "raw": "load",
    "unified": "unify",
    "serve": "serve",
    "copies": "publish",
    "agents": "agents",
}


class SelectionError(Exception):
    """`--select` names an asset the project does not have (a usage error, exit code 2)."""


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

    from hub.instance import ensure_instance

    ensure_instance(root)
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
    import dagster as dg

    from assets import build_definitions
    from hub.config import load_config

    config = load_config(config_path)
    defs = build_definitions(config, str(config_path))
    if asset_selection:
        graph = defs.resolve_asset_graph()
        _check_selection(asset_selection, graph.get_all_asset_keys())
        # a step that writes two tables (a crosswalk beside its entity) runs whole
        selection = dg.AssetSelection.assets(*asset_selection).required_multi_asset_neighbors()
        asset_selection = sorted(selection.resolve(graph))
    instance = dagster_instance(config.root)
    job = defs.resolve_job_def(job_name)
    selected = set(asset_selection or job.asset_layer.executable_asset_keys)
    runs = _per_client_runs(config, instance, selected)
    reports = []
    for keys, range_tags in runs:
        result = job.execute_in_process(
            instance=instance,
            asset_selection=sorted(keys),
            raise_on_error=False,
            run_config=QUIET,
            tags={**(tags or {}), **range_tags},
        )
        reports.append(_report(instance, result))
    return _merged(reports)


def _per_client_runs(config, instance, selected: set) -> list[tuple[set, dict[str, str]]]:  # noqa: ANN001
    """The runs that materialize `selected`: one, unless agents drafting per client are in
    it. Those draft for every client signed up so far (the partitions are brought up to date
    with the signup table's source first, as the sensor would), over the range of all their
    partitions; a run holds one partitions definition, so a second such agent runs after."""
    from assets.signups import new_signups, partitioned_agents, signup_partitions

    runs: list[tuple[set, dict[str, str]]] = []
    rest = set(selected)
    for agent, key in partitioned_agents(config).items():
        if key not in selected:
            continue
        rest.discard(key)
        name = signup_partitions(agent).name
        try:
            instance.add_dynamic_partitions(name, new_signups(config, agent, instance))
        except Exception:  # noqa: BLE001 - the source is down: the load says so, clearly
            pass
        clients = instance.get_dynamic_partitions(name)
        if clients:
            runs.append(({key}, {RANGE_START: clients[0], RANGE_END: clients[-1]}))
    if runs:
        runs[0][0].update(rest)
    elif rest:
        runs.append((rest, {}))
    return runs or [(set(), {})]


def _merged(reports: list[RunReport]) -> RunReport:
    first, *more = reports
    for report in more:
        first.success = first.success and report.success
        first.failures.update(report.failures)
        for stage, seconds in report.seconds.items():
            first.seconds[stage] = round(first.seconds.get(stage, 0) + seconds, 2)
    return first


def _check_selection(selected: list, known: set) -> None:
    """Refuse an asset key the project does not have, naming it and the likely ones."""
    names = sorted("/".join(key.path) for key in known)
    for key in selected:
        if key in known:
            continue
        name = "/".join(key.path)
        close = [n for n in names if n.startswith(f"{name}/")] or get_close_matches(name, names)
        hint = f" Did you mean {', '.join(close)}?" if close else ""
        raise SelectionError(
            f"no asset {name!r} in this project.{hint} Fix: --select one of {', '.join(names)}."
        )


def _report(instance, result) -> RunReport:  # noqa: ANN001
    """Seconds per stage from Dagster's own step statistics; why each failed step failed."""
    report = RunReport(run_id=result.run_id, success=result.success)
    seconds: dict[str, float] = defaultdict(float)
    for step in instance.get_run_step_stats(result.run_id):
        if step.start_time is not None and step.end_time is not None:
            seconds[_stage(step.step_key)] += step.end_time - step.start_time
    report.seconds = {s: round(seconds[s], 2) for s in STAGES if s in seconds}
    for event in result.get_step_failure_events():
        data = event.step_failure_data
        user = data.user_failure_data
        why = user.description if user and user.description else cause_of(data.error)
        report.failures[event.step_key] = scrub(why)
    if not result.success and not report.failures:  # e.g. a resource that failed to start
        failed = result.get_run_failure_event().job_failure_data
        report.failures["run"] = scrub(cause_of(failed.error) if failed.error else failed.info)
    return report


def cause_of(error) -> str:  # noqa: ANN001 - dagster SerializableErrorInfo
    """The user's exception under Dagster's wrappers ("Error occurred while executing op"),
    and the root of its own chain when that says more (`X: ... (cause: Y: ...)`)."""
    while error.cause is not None and error.cls_name.startswith("Dagster"):
        error = error.cause
    message, root = error.message.strip(), error  # "ValueError: ..." (format_exception_only)
    while root.cause is not None:
        root = root.cause
    said = root.message.strip().split(": ", 1)[-1]
    return message if said in message else f"{message} (cause: {root.message.strip()})"


def fix_for(step_key: str) -> str:
    """Where to look when a step failed with an error that names no fix of its own."""
    layer, _, rest = step_key.partition("__")
    name = step_key.rsplit("__", 1)[-1]
    where = {
        "raw": f"sources.{rest.partition('__')[0]} in hub.yaml (path, url, credentials) and the "
        "source itself",
        "unified": f"entities.{name} in hub.yaml (the source columns it maps)",
        "serve": f"serve.{name}.sql in hub.yaml",
        "agents": f"agents.{name}.llm in hub.yaml (provider, model, api_base) and the provider "
        "itself",
    }.get(layer, "delivery in hub.yaml (its outbox folder)" if layer.startswith("deliver") else "")
    if not where or _stage(step_key) == "checks":
        return ""
    return f"Fix: check {where}, then run it again."


def _stage(step_key: str) -> str:
    own, references = step_key.endswith("__checks"), "__references__" in step_key
    if own or references or step_key.startswith("freshness_check"):
        return "checks"
    layer = step_key.split("__", 1)[0]
    return STAGE_OF_LAYER.get(layer, "deliver")
