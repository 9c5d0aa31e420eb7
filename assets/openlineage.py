"""OpenLineage events out of every step: `@openlineage(config)` under an asset's (or a
check's) decorator sends START before the step's work, COMPLETE with what it wrote (schema,
row count, column lineage, check results), FAIL with the error (which is then raised as
before). With no `lineage.openlineage` in hub.yaml the step is returned untouched: nothing is
imported, nothing is sent. Lineage never fails a step: a receiver that does not answer, or an
event that cannot be built, is a warning in the step's log (`hub.lineage_events` says what is
sent, `hub.lineage_names` how datasets are named).
"""

from __future__ import annotations

import functools
import inspect
from collections.abc import Callable
from typing import TYPE_CHECKING, Any

import dagster as dg

from hub.config import HubConfig
from hub.masking import without_values
from hub.secrets import scrub

if TYPE_CHECKING:
    from quality.specs import CheckSpec


def openlineage(config: HubConfig, checks: list[CheckSpec] | None = None) -> Callable:
    """Decorate a step's compute function so that it emits its OpenLineage run; `checks` are
    the specs of a check step (their column and severity go into the assertions)."""
    if config.lineage.openlineage is None:
        return lambda compute: compute

    def decorate(compute: Callable) -> Callable:
        if inspect.isgeneratorfunction(compute):

            @functools.wraps(compute)
            def stream(context, *args, **kwargs):  # noqa: ANN001, ANN202
                step = _Step(context, kwargs.get("hub"), checks)
                try:
                    for item in compute(context, *args, **kwargs):
                        step.saw(item)
                        yield item
                except Exception as exc:
                    step.fail(exc)
                    raise
                step.complete()

            return stream

        @functools.wraps(compute)
        def once(context, *args, **kwargs):  # noqa: ANN001, ANN202
            step = _Step(context, kwargs.get("hub"), checks)
            try:
                result = compute(context, *args, **kwargs)
            except Exception as exc:
                step.fail(exc)
                raise
            step.saw(result)
            step.complete()
            return result

        return once

    return decorate


class _Step:
    """One step's OpenLineage run; every method logs a warning instead of raising."""

    def __init__(self, context: Any, hub: Any, checks: list[CheckSpec] | None) -> None:
        self.context, self.run, self.emitter = context, None, None
        self.specs = {spec.name: spec for spec in checks or []}
        self.assertions: dict[str, list] = {}
        try:
            self.config = hub.config
            self.run = self._describe()
            self._send("START")
        except Exception as exc:  # noqa: BLE001 - lineage never fails a step
            self._warn("START", exc)

    def _describe(self) -> Any:
        from hub.lineage_events import JOB_TYPES, StepRun, entity_lineage
        from hub.lineage_names import asset_datasets, source_dataset
        from hub.lineage_send import emitter_for

        config, op = self.config, self.context.op_execution_context
        self.emitter = emitter_for(config)
        if self.emitter is None:  # hub.yaml changed since the definitions were built
            return None
        if isinstance(self.context, dg.AssetCheckExecutionContext):
            specs = self.context.check_specs
            read = [s.asset_key for s in specs] + [
                d.asset_key for s in specs for d in s.additional_deps
            ]
            written, job_type, description = [], "CHECK", ""
        else:
            assets = self.context.assets_def
            written = sorted(self.context.selected_asset_keys)
            read = sorted({d for key in written for d in assets.asset_deps[key]} - set(written))
            layer = written[0].path[0]
            job_type = JOB_TYPES.get(layer, "AGENT")
            description = assets.descriptions_by_key.get(written[0]) or ""
        inputs = [d for key in dict.fromkeys(read) for d in asset_datasets(config, tuple(key.path))]
        outputs = [d for key in written for d in asset_datasets(config, tuple(key.path))]
        run = StepRun(
            namespace=self.emitter.namespace,
            job=op.op_def.name,
            job_type=job_type,
            parent_job=op.job_name,
            parent_run_id=op.run_id,
            inputs=inputs,
            outputs=outputs,
            description=description,
        )
        for key in written:
            layer, name = key.path[0], key.path[-1]
            if layer == "raw":  # a load reads its source
                loaded = [(s, t) for s, t, _ in config.raw_tables() if f"{s}__{t}" == name]
                run.inputs[:0] = [source_dataset(config, s, t) for s, t in loaded]
            elif layer == "unified" and name in config.entities:
                run.output_facets[f"unified.{name}"] = {
                    "columnLineage": entity_lineage(config, name)
                }
            elif layer == "unified" and name.removesuffix("_xref") in config.entities:
                crosswalk = entity_lineage(config, name.removesuffix("_xref"), crosswalk=True)
                run.output_facets[f"unified.{name}"] = {"columnLineage": crosswalk}
            elif layer == "serve" and name in config.serve:
                run.sql = config.serve[name].sql
        return run

    def saw(self, item: Any) -> None:
        """Take what the step reports: a materialization's schema and rows, a check's result."""
        if self.run is None:
            return
        try:
            if isinstance(item, dg.MaterializeResult):
                self._materialized(item)
            elif isinstance(item, dg.AssetCheckResult):
                self._checked(item)
        except Exception as exc:  # noqa: BLE001
            self._warn("COMPLETE", exc)

    def _materialized(self, result: dg.MaterializeResult) -> None:
        from hub.lineage_events import schema_facet
        from hub.lineage_names import asset_datasets

        key = result.asset_key or next(iter(self.context.selected_asset_keys))
        metadata = result.metadata or {}
        schema = metadata.get("dagster/column_schema")
        schema = getattr(schema, "schema", schema)  # a TableSchemaMetadataValue or the schema
        rows = metadata.get("dagster/row_count")
        rows = getattr(rows, "value", rows)
        for dataset in asset_datasets(self.config, tuple(dg.AssetKey.from_coercible(key).path)):
            facets = self.run.output_facets.setdefault(dataset.name, {})
            if isinstance(schema, dg.TableSchema):
                facets["schema"] = schema_facet([(c.name, c.type) for c in schema.columns])
            if isinstance(rows, int):
                self.run.statistics[dataset.name] = rows

    def _checked(self, result: dg.AssetCheckResult) -> None:
        from hub.lineage_events import Assertion, assertions_facet
        from hub.lineage_names import asset_datasets

        spec = self.specs.get(result.check_name or "")
        column = spec.kwargs.get("column") if spec else None
        assertion = Assertion(
            check=result.check_name or "",
            success=bool(result.passed),
            column=column if isinstance(column, str) else None,
            severity="error" if result.severity == dg.AssetCheckSeverity.ERROR else "warn",
            description=spec.description if spec else "",
        )
        key = dg.AssetKey.from_coercible(result.asset_key or self.context.check_specs[0].asset_key)
        for dataset in asset_datasets(self.config, tuple(key.path)):
            found = self.assertions.setdefault(dataset.name, [])
            found.append(assertion)
            facets = self.run.input_facets.setdefault(dataset.name, {})
            facets["dataQualityAssertions"] = assertions_facet(found)

    def complete(self) -> None:
        if self.run is None:
            return
        try:
            self._finish()
            self._send("COMPLETE")
        except Exception as exc:  # noqa: BLE001
            self._warn("COMPLETE", exc)

    def _finish(self) -> None:
        """Facets only the written tables can tell: a schema the step did not report, and a
        product's column lineage."""
        from hub.lineage_events import product_lineage, schema_facet
        from hub.lineage_names import describe
        from hub.store import Store

        for dataset in self.run.outputs:
            facets = self.run.output_facets.setdefault(dataset.name, {})
            if "schema" not in facets and (columns := describe(self.config, dataset)):
                facets["schema"] = schema_facet(columns)
            layer, _, name = dataset.name.partition(".")
            if layer == "serve" and dataset.file == Store.of(self.config).path.resolve():
                with Store.of(self.config).reader() as con:
                    lineage = product_lineage(con, self.config, name)
                if lineage is not None:
                    facets["columnLineage"] = lineage

    def fail(self, exc: Exception) -> None:
        if self.run is None:
            return
        # the event leaves the store: the error's first line without the values it quotes
        # (a cast that failed names the e-mail it choked on), no stack trace; the whole of it
        # is in the Dagster run's log
        if isinstance(exc, dg.Failure):  # ours: names tables and columns, never a value
            message = f"Failure: {scrub(exc.description or 'failed')}"
        else:
            message = f"{type(exc).__name__}: {without_values(scrub(str(exc)))}"
        try:
            self._send("FAIL", message)
        except Exception as problem:  # noqa: BLE001
            self._warn("FAIL", problem)

    def _send(self, state: str, error: str | None = None, trace: str | None = None) -> None:
        event = self.run.event(state, error, trace)
        warning = self.emitter.send(event, self.context.op_execution_context.run_id)
        if warning:
            self.context.log.warning(warning)

    def _warn(self, state: str, exc: Exception) -> None:
        self.context.log.warning(
            f"OpenLineage: the {state} event of this step could not be built "
            f"({type(exc).__name__}: {scrub(str(exc))}); the step goes on without it."
        )
