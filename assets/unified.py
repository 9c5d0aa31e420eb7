"""Unified assets: one per entity, built from the raw tables its sources map."""

from collections import Counter

import dagster as dg

from assets.guard import proven_inputs, recorded_build, require_open_gate
from assets.keys import gated_automation, key_for_table, table_metadata
from hub import audit, gate
from hub.config import HubConfig
from hub.resource import HubResource
from hub.store import new_batch_id, replace_table
from hub.unify import unify


def unified_assets(config: HubConfig) -> list[dg.AssetsDefinition]:
    return [_entity_asset(config, name) for name in config.entities]


def _entity_asset(config: HubConfig, name: str) -> dg.AssetsDefinition:
    entity = config.entities[name]
    deps = list(dict.fromkeys(key_for_table(f"raw.{s.table}") for s in entity.sources))

    @dg.asset(
        key=["unified", name],
        group_name="unified",
        kinds={"duckdb"},
        deps=deps,
        automation_condition=gated_automation() if entity.gated else None,
        description=f"`unified.{name}` and its crosswalk `unified.{name}_xref`. "
        f"{entity.description} Matched on {', '.join(entity.match_on)} (in that order).",
    )
    def build(context: dg.AssetExecutionContext, hub: HubResource) -> dg.MaterializeResult:
        config = hub.config
        verdict = require_open_gate(
            hub.store,
            lambda con: gate.evaluate_build(con, config, f"unified.{name}"),
            context.run_id,
        )
        batch_id = new_batch_id()
        with (
            recorded_build(hub.store, f"unified.{name}", context.run_id),
            hub.store.transaction() as con,
        ):
            inputs = proven_inputs(con, verdict)
            result = unify(con, name, config.entities[name])
            replace_table(
                con,
                "unified",
                name,
                result.entities,
                source="unify",
                run_id=context.run_id,
                batch_id=batch_id,
                inputs=inputs,
            )
            replace_table(
                con,
                "unified",
                f"{name}_xref",
                result.xref,
                source="unify",
                run_id=context.run_id,
                batch_id=batch_id,
                inputs=inputs,
            )
            matched = dict(Counter(result.xref.column("matched_on").to_pylist()))
            audit.append(
                con,
                actor="unify",
                action="build",
                target=f"unified.{name}",
                details={
                    "batch_id": batch_id,
                    "entities": result.entities.num_rows,
                    "records": result.xref.num_rows,
                    "matched_on": matched,
                    "run_id": context.run_id,
                },
            )
            metadata = table_metadata(con, config, f"unified.{name}", result.entities.num_rows)
        return dg.MaterializeResult(
            metadata={
                **metadata,
                "source_records": result.xref.num_rows,
                "matched_on": matched,
                "batch_id": batch_id,
            }
        )

    return build
