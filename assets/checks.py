"""Asset checks: one Dagster multi-asset check per table (and one per table it references),
one check per expectation.

Each runs its table's checks once (expectations compiled to one DuckDB query, GX for the
few that are not, SQL for the cross-table checks), records every verdict in
`meta.check_results` against the table's current batch, and reports it to Dagster.
`severity: error` checks are `blocking`: a failure stops everything downstream in the run,
and the foundation gate keeps agents stopped in later runs.
"""

import json
from typing import Any

import dagster as dg

from assets.keys import key_for_table
from assets.openlineage import openlineage
from hub.config import HubConfig
from hub.governance import mask_check_details, pii_of
from hub.masking import without_values
from hub.resource import HubResource
from hub.schema import LINEAGE
from hub.secrets import scrub
from hub.store import quote_column, split_ref, table_ref
from quality import compiled, results
from quality.gx_bridge import run_expectations
from quality.specs import CheckSpec, Verdict, data_versions, primary_keys, table_checks
from quality.sql_checks import run_sql_check


def asset_checks(config: HubConfig) -> list[dg.AssetChecksDefinition]:
    """Per table, its own checks in one step, and its references to each other raw table in
    a step of their own: those wait for their target, so a blocking failure on a target
    skips only the references to it, never the table's own checks."""
    steps = []
    for ref, specs in table_checks(config).items():
        own = [s for s in specs if not _reads_also(ref, s)]
        steps.append(_table_check(config, ref, own, "checks"))
        targets = dict.fromkeys(s.kwargs["target"] for s in specs if _reads_also(ref, s))
        for target in targets:
            to_target = [s for s in specs if _reads_also(ref, s) and s.kwargs["target"] == target]
            step = f"references__{target.replace('.', '__')}"
            steps.append(_table_check(config, ref, to_target, step))
    return steps


def _table_check(
    config: HubConfig, ref: str, specs: list[CheckSpec], step: str
) -> dg.AssetChecksDefinition:
    asset_key = key_for_table(ref)

    @dg.multi_asset_check(
        name=f"{ref.replace('.', '__')}__{step}",
        specs=[
            dg.AssetCheckSpec(
                s.name,
                asset=asset_key,
                blocking=s.blocking,
                description=s.description,
                additional_deps=_reads_also(ref, s),
            )
            for s in specs
        ],
    )
    @openlineage(config, checks=specs)
    def run_checks(context: dg.AssetCheckExecutionContext, hub: HubResource):
        verdicts, versions = evaluate(hub, ref, specs)
        with hub.store.transaction() as con:
            results.record(con, specs, verdicts, versions=versions, run_id=context.run.run_id)
        errors = [v for v in verdicts if v.passed is None]
        for spec, verdict in zip(specs, verdicts, strict=True):
            if verdict.passed is None:
                continue
            yield dg.AssetCheckResult(
                asset_key=asset_key,
                check_name=spec.name,
                passed=verdict.passed,
                severity=dg.AssetCheckSeverity.ERROR
                if spec.blocking
                else dg.AssetCheckSeverity.WARN,
                metadata=_json_safe(
                    {**verdict.metadata, "data_version": versions[spec.name] or ""}
                ),
            )
        if errors:
            raise dg.Failure(
                description=f"{ref}: check(s) could not be evaluated: "
                + "; ".join(f"{v.check}: {v.error}" for v in errors)
                + ". Fix the check's arguments in hub.yaml (an errored check counts as failed "
                "for the foundation gate)."
            )

    return run_checks


def _json_safe(metadata: dict[str, Any]) -> dict[str, Any]:
    """Dagster metadata as `meta.check_results` keeps it: timestamps, decimals and the like
    as text, so a sample of unexpected values can always be shown."""
    return json.loads(json.dumps(metadata, default=str))


def _reads_also(ref: str, spec: CheckSpec) -> list[dg.AssetKey]:
    """A foreign key's target in `raw`, so a run loads it before checking against it (a
    target downstream, in `unified`, would make a cycle: its verdict goes stale instead)."""
    target = spec.kwargs.get("target", "") if spec.sql == "references" else ""
    return [key_for_table(target)] if target.startswith("raw.") and target != ref else []


def evaluate(
    hub: HubResource, ref: str, specs: list[CheckSpec]
) -> tuple[list[Verdict], dict[str, str | None]]:
    """Verdicts of every check of one table, and the data version each one is about.
    Expectations run as one DuckDB query (`quality.compiled`); the few it does not compile
    run through GX on a frame of only the columns they need, so GX is imported only then."""
    table = table_ref(*split_ref(ref))
    config = hub.config
    key = primary_keys(config).get(ref, [])
    with hub.store.reader() as con:
        versions = data_versions(con, specs)
        found = {s.name: run_sql_check(con, s, key) for s in specs if s.sql}
        verdicts, left = compiled.run(con, table, [s for s in specs if not s.sql], key)
        found |= {v.check: v for v in verdicts}
        if left:
            columns = _needed_columns(
                left, [c[0] for c in con.execute(f"DESCRIBE {table}").fetchall()]
            )
            frame = con.execute(f"SELECT {', '.join(map(quote_column, columns))} FROM {table}").df()
        pii = pii_of(config, ref, con)
    if left:
        found |= {v.check: v for v in run_expectations(ref, frame, left)}
    verdicts = [found[s.name] for s in specs]
    for spec, verdict in zip(specs, verdicts, strict=True):
        verdict.metadata = mask_check_details(
            config, ref, pii, spec.kwargs, verdict.metadata, key=key
        )
        # analysts read the check results and Dagster's metadata: no value an error quotes
        verdict.error = without_values(scrub(verdict.error)) if verdict.error else None
    return verdicts, versions


def _needed_columns(specs: list[CheckSpec], columns: list[str]) -> list[str]:
    """The columns the expectations name, or all the source's columns (not Groundwork's
    lineage columns) when one is about the table."""
    named: list[str] = []
    for spec in specs:
        wanted = [spec.kwargs.get(k) for k in ("column", "column_A", "column_B")]
        wanted += list(spec.kwargs.get("column_list") or [])
        wanted = [c for c in wanted if isinstance(c, str)]
        if not wanted or "row_condition" in spec.kwargs:  # a condition may name any column
            return [c for c in columns if c not in LINEAGE]
        named += [c for c in wanted if c in columns and c not in named]
    return named
