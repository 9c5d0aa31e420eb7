"""Serve assets: governed data products, one asset each. The store holds each product as
its SQL computes it (the steward's view); each audience's masked copy is an asset of its
own downstream (`assets.copies`)."""

import dagster as dg

from assets.guard import proven_inputs, recorded_build, require_open_gate
from assets.keys import column_schema, gated_automation, keys_read, table_metadata
from assets.openlineage import openlineage
from hub import audit, gate
from hub.config import HubConfig
from hub.governance import GovernanceError, publish
from hub.resource import HubResource
from hub.store import new_batch_id, record_batch


def serve_assets(config: HubConfig) -> list[dg.AssetsDefinition]:
    return [_product_asset(config, name) for name in config.serve]


def _product_asset(config: HubConfig, name: str) -> dg.AssetsDefinition:
    product = config.serve[name]
    deps = keys_read(product.inputs)

    @dg.asset(
        key=["serve", name],
        group_name="serve",
        kinds={"duckdb"},
        owners=product.owners,
        deps=deps,
        automation_condition=gated_automation() if product.gated else None,
        description=f"`serve.{name}` for the `{product.audience}` audience. {product.description}",
        metadata={"audience": product.audience, **column_schema(config, f"serve.{name}")},
    )
    @openlineage(config)
    def build(context: dg.AssetExecutionContext, hub: HubResource) -> dg.MaterializeResult:
        config = hub.config
        verdict = require_open_gate(
            hub.store,
            lambda con: gate.evaluate_build(con, config, f"serve.{name}"),
            context.run_id,
        )
        batch_id = new_batch_id()
        with recorded_build(hub.store, f"serve.{name}", context.run_id):
            try:
                with hub.store.transaction() as con:
                    inputs = proven_inputs(con, verdict)
                    rows, pii, metadata = _publish(
                        con, config, name, batch_id, inputs, context.run_id
                    )
            except GovernanceError as exc:
                raise dg.Failure(description=f"{exc} The previous product is kept.") from None
        return dg.MaterializeResult(metadata={**metadata, "batch_id": batch_id, "pii": pii})

    return build


def _publish(con, config: HubConfig, name: str, batch_id: str, inputs: dict, run_id: str):  # noqa: ANN001, ANN202
    """Publish one product, record its batch (built from `inputs`) and audit it; one
    transaction."""
    rows, pii = publish(con, config, name)
    record_batch(con, batch_id, f"serve.{name}", "serve", rows, 0, run_id, inputs=inputs)
    audit.append(
        con,
        actor="governance",
        action="publish",
        target=f"serve.{name}",
        details={
            "batch_id": batch_id,
            "rows": rows,
            "audience": config.serve[name].audience,
            "pii": pii,
            "run_id": run_id,
        },
    )
    return rows, pii, table_metadata(con, config, f"serve.{name}", rows)
