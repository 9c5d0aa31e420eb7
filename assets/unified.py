"""Unified assets: one per entity, built from the raw tables its sources map."""

from collections import Counter

import dagster as dg

from assets.guard import proven_inputs, recorded_build, require_open_gate
from assets.keys import column_schema, gated_automation, key_for_table, table_metadata
from assets.openlineage import openlineage
from hub import audit, gate
from hub.config import HubConfig
from hub.resource import HubResource
from hub.store import new_batch_id, replace_table
from hub.unify import unify


def unified_assets(config: HubConfig) -> list[dg.AssetsDefinition]:
    return [_entity_asset(config, name) for name in config.entities]


def _entity_asset(config: HubConfig, name: str) -> dg.AssetsDefinition:
    entity = config.entities[name]
    shared = {
        "group_name": "unified",
        "kinds": {"duckdb"},
        "owners": entity.owners,
        "deps": list(dict.fromkeys(key_for_table(f"raw.{s.table}") for s in entity.sources)),
        "automation_condition": gated_automation() if entity.gated else None,
    }
    records = key_for_table(f"unified.{name}_xref")

    @dg.multi_asset(
        name=f"unified__{name}",
        specs=[
            dg.AssetSpec(
                key_for_table(f"unified.{name}"),
                description=f"`unified.{name}`: {entity.description} One row per "
                f"{name}, matched on {', '.join(entity.match_on)} (in that order).",
                metadata=column_schema(config, f"unified.{name}"),
                **shared,
            ),
            dg.AssetSpec(
                records,
                description=f"`unified.{name}_xref`, the crosswalk: each source record and the "
                f"`unified.{name}` row it was matched to, with the key that matched it. Written "
                f"in the same step and transaction as `unified.{name}`.",
                **shared,
            ),
        ],
    )
    @openlineage(config)
    def build(context: dg.AssetExecutionContext, hub: HubResource):
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
            for table, rows in ((name, result.entities), (f"{name}_xref", result.xref)):
                replace_table(
                    con,
                    "unified",
                    table,
                    rows,
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
            entities = table_metadata(con, config, f"unified.{name}", result.entities.num_rows)
            crosswalk = table_metadata(con, config, f"unified.{name}_xref", result.xref.num_rows)
        yield dg.MaterializeResult(
            asset_key=key_for_table(f"unified.{name}"),
            metadata={**entities, "source_records": result.xref.num_rows, "batch_id": batch_id},
        )
        yield dg.MaterializeResult(
            asset_key=records, metadata={**crosswalk, "matched_on": matched, "batch_id": batch_id}
        )

    return build
