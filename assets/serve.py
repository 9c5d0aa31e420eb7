"""Serve assets: governed data products, one asset each. The store holds each product as
its SQL computes it (the steward's view); the agent audience's masked copy is republished
with every product for agents, and the analyst's on read (`hub.governance`)."""

import dagster as dg

from assets.guard import require_open_gate
from assets.keys import key_for_table, table_metadata
from hub import audit, gate
from hub.config import HubConfig
from hub.governance import pii_of, publish, publish_agent_copy
from hub.resource import HubResource
from hub.store import new_batch_id, record_batch


def serve_assets(config: HubConfig) -> list[dg.AssetsDefinition]:
    return [_product_asset(config, name) for name in config.serve]


def _product_asset(config: HubConfig, name: str) -> dg.AssetsDefinition:
    product = config.serve[name]
    deps = list(dict.fromkeys(key_for_table(ref) for ref in product.inputs))

    @dg.asset(
        key=["serve", name],
        group_name="serve",
        kinds={"duckdb"},
        deps=deps,
        description=f"`serve.{name}` for the `{product.audience}` audience. {product.description}",
        metadata={"audience": product.audience, "pii": pii_of(config, f"serve.{name}")},
    )
    def build(context: dg.AssetExecutionContext, hub: HubResource) -> dg.MaterializeResult:
        config = hub.config
        require_open_gate(
            hub.store,
            lambda con: gate.evaluate_build(con, config, f"serve.{name}"),
            context.run_id,
        )
        batch_id = new_batch_id()
        with hub.store.transaction() as con:
            rows = publish(con, config, name)
            record_batch(con, batch_id, f"serve.{name}", "serve", rows, 0, context.run_id)
            audit.append(
                con,
                actor="governance",
                action="publish",
                target=f"serve.{name}",
                details={
                    "batch_id": batch_id,
                    "rows": rows,
                    "audience": product.audience,
                    "pii": pii_of(config, f"serve.{name}"),
                    "run_id": context.run_id,
                },
            )
            metadata = table_metadata(con, config, f"serve.{name}", rows)
        if product.audience == "agent":
            with hub.store.writer() as con:
                copy = publish_agent_copy(con, config)
            context.log.info(f"agent copy refreshed: {copy}")
        return dg.MaterializeResult(metadata={**metadata, "batch_id": batch_id})

    return build
