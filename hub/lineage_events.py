"""OpenLineage run events of Groundwork's steps (`lineage.openlineage` in hub.yaml; off by
default, and nothing here is imported then).

Each Dagster step (a load, an entity build, a product, a published copy, an agent run, a
table's checks) is one OpenLineage job named after the step (`raw__crm__clients`,
`unified__customer`, `raw__crm__clients__checks`) in the configured namespace (default: the
project's name). Each execution is a run (a UUIDv7) with a START event, then COMPLETE or
FAIL, and the Dagster run as its `parent` (the Dagster job's name and run id). Datasets are
named by `hub.lineage_names`; `hub.lineage_send` sends the events.

Facets: `schema` and `outputStatistics` (row count) on outputs, from the step's own Dagster
metadata or the table itself; `columnLineage` on an entity (its fields <- the source columns
`entities.<e>.sources[].fields` maps, the standardisers as the transformation), on its
crosswalk (`source_id` <- each source's id) and on a product (traced through its SQL by
`hub.lineage`); `dataQualityAssertions` on the table a check run read, one assertion per
check (its name, success, column, severity); `errorMessage` on a FAIL; `jobType` (integration
`DAGSTER`, job type LOAD, UNIFY, PUBLISH, COPY, AGENT or CHECK), `documentation` (the asset's
description) and, for a product, `sql` on the job.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import UTC, datetime
from importlib.metadata import version
from typing import Any

import duckdb
from openlineage.client.event_v2 import InputDataset, Job, OutputDataset, Run, RunEvent, RunState
from openlineage.client.facet_v2 import (
    column_lineage_dataset,
    data_quality_assertions_dataset,
    documentation_job,
    error_message_run,
    job_type_job,
    output_statistics_output_dataset,
    parent_run,
    schema_dataset,
    sql_job,
)
from openlineage.client.uuid import generate_new_uuid

from hub.config import HubConfig
from hub.lineage import LineageError, column_sources, tables_read
from hub.lineage_names import Dataset, columns_of, store_dataset

PRODUCER = f"urn:groundwork:{version('groundwork')}"
"Who produced the events and facets (a URI, as the spec asks)."
JOB_TYPES = {"raw": "LOAD", "unified": "UNIFY", "serve": "PUBLISH", "copies": "COPY"}
"OpenLineage `jobType` of a step, by the layer of what it writes (checks: CHECK, agents: AGENT)."


@dataclass(frozen=True)
class Assertion:
    check: str
    success: bool
    column: str | None
    severity: str
    description: str = ""


def schema_facet(columns: list[tuple[str, str]]) -> schema_dataset.SchemaDatasetFacet:
    return schema_dataset.SchemaDatasetFacet(
        fields=[
            schema_dataset.SchemaDatasetFacetFields(name=n, type=t, ordinal_position=i)
            for i, (n, t) in enumerate(columns, start=1)
        ],
        producer=PRODUCER,
    )


def entity_lineage(config: HubConfig, name: str, crosswalk: bool = False) -> Any:
    """An entity's fields (or its crosswalk's `source_id`) <- the source columns mapped."""
    entity, fields = config.entities[name], {}
    for source in entity.sources:
        raw = store_dataset(config, f"raw.{source.table}")
        pairs = (
            [("source_id", source.id, [])]
            if crosswalk
            else [(f, column, entity.fields[f].standardise) for f, column in source.fields.items()]
        )
        for target, column, standardise in pairs:
            how = column_lineage_dataset.Transformation(
                type="DIRECT",
                subtype="TRANSFORMATION" if standardise else "IDENTITY",
                description=", ".join(standardise) or None,
            )
            fields.setdefault(target, []).append(
                column_lineage_dataset.InputField(raw.namespace, raw.name, column, [how])
            )
    return _column_lineage(fields)


def product_lineage(con: duckdb.DuckDBPyConnection, config: HubConfig, name: str) -> Any:
    """A product's columns <- the store columns its SQL computes them from; None when the SQL
    cannot be traced (governance then decides who may read it)."""
    sql = config.serve[name].sql
    columns = [column for column, _ in columns_of(con, f"serve.{name}")]
    schema: dict[str, dict[str, dict[str, str]]] = {}
    for ref in tables_read(sql):
        if described := columns_of(con, ref):
            layer, _, table = ref.partition(".")
            schema.setdefault(layer, {})[table] = dict(described)
    try:
        sources = column_sources(sql, schema, columns)
    except LineageError:
        return None
    fields = {
        column: [
            column_lineage_dataset.InputField(store_dataset(config, ref).namespace, ref, source)
            for ref, source in sorted(found)
        ]
        for column, found in sources.items()
        if found
    }
    return _column_lineage(fields)


def _column_lineage(fields: dict[str, list]) -> Any:
    return column_lineage_dataset.ColumnLineageDatasetFacet(
        fields={f: column_lineage_dataset.Fields(inputFields=i) for f, i in fields.items()},
        producer=PRODUCER,
    )


def assertions_facet(assertions: list[Assertion]) -> Any:
    return data_quality_assertions_dataset.DataQualityAssertionsDatasetFacet(
        assertions=[
            data_quality_assertions_dataset.Assertion(
                assertion=a.check,
                success=a.success,
                column=a.column,
                severity=a.severity,
                description=a.description or None,
            )
            for a in assertions
        ],
        producer=PRODUCER,
    )


@dataclass
class StepRun:
    """One execution of a step as OpenLineage sees it: the job, its datasets, its parent."""

    namespace: str
    job: str
    job_type: str
    parent_job: str
    parent_run_id: str
    inputs: list[Dataset]
    outputs: list[Dataset]
    description: str = ""
    sql: str | None = None
    run_id: str = field(default_factory=lambda: str(generate_new_uuid()))
    input_facets: dict[str, dict[str, Any]] = field(default_factory=dict)
    "dataset name -> its input facets (a check run's assertions)."
    output_facets: dict[str, dict[str, Any]] = field(default_factory=dict)
    "dataset name -> its facets (schema, column lineage)."
    statistics: dict[str, int] = field(default_factory=dict)
    "dataset name -> rows it holds after the step."

    def event(self, state: str, error: str | None = None, trace: str | None = None) -> RunEvent:
        facets: dict[str, Any] = {
            "parent": parent_run.ParentRunFacet(
                run=parent_run.Run(runId=self.parent_run_id),
                job=parent_run.Job(namespace=self.namespace, name=self.parent_job),
                producer=PRODUCER,
            )
        }
        if error is not None:
            facets["errorMessage"] = error_message_run.ErrorMessageRunFacet(
                message=error, programmingLanguage="python", stackTrace=trace, producer=PRODUCER
            )
        job_facets: dict[str, Any] = {
            "jobType": job_type_job.JobTypeJobFacet(
                processingType="BATCH",
                integration="DAGSTER",
                jobType=self.job_type,
                producer=PRODUCER,
            )
        }
        if self.description:
            job_facets["documentation"] = documentation_job.DocumentationJobFacet(
                description=self.description, contentType="text/markdown", producer=PRODUCER
            )
        if self.sql:
            job_facets["sql"] = sql_job.SQLJobFacet(
                query=self.sql, dialect="duckdb", producer=PRODUCER
            )
        done = state != "START"
        return RunEvent(
            eventType=RunState[state],
            eventTime=datetime.now(UTC).isoformat(),
            run=Run(runId=self.run_id, facets=facets),
            job=Job(namespace=self.namespace, name=self.job, facets=job_facets),
            inputs=[
                InputDataset(
                    d.namespace,
                    d.name,
                    inputFacets=self.input_facets.get(d.name, {}) if done else {},
                )
                for d in self.inputs
            ],
            outputs=[self._output(d, done) for d in self.outputs],
            producer=PRODUCER,
        )

    def _output(self, dataset: Dataset, done: bool) -> OutputDataset:
        if not done:
            return OutputDataset(dataset.namespace, dataset.name)
        rows, statistics = self.statistics.get(dataset.name), {}
        if rows is not None:
            facet = output_statistics_output_dataset.OutputStatisticsOutputDatasetFacet
            statistics["outputStatistics"] = facet(rowCount=rows, producer=PRODUCER)
        return OutputDataset(
            dataset.namespace,
            dataset.name,
            facets=self.output_facets.get(dataset.name, {}),
            outputFacets=statistics,
        )
