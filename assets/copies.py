"""Each audience's published copy as an asset: the DuckDB file it reads, masked its way.

`copies/agent_copy` (what the agents read) is written after the products for agents, and
the agents wait for it; `copies/analyst_copy` after everything the analyst reads (it is
also republished on read when the store moved on since, see `hub.copies`).
"""

import dagster as dg

from assets.keys import keys_read
from assets.openlineage import openlineage
from hub.config import HubConfig
from hub.copies import (
    agent_copy_tables,
    analyst_copy_tables,
    publish_agent_copy,
    publish_analyst_copy,
)
from hub.resource import HubResource

AGENT_COPY = dg.AssetKey(["copies", "agent_copy"])
ANALYST_COPY = dg.AssetKey(["copies", "analyst_copy"])


def copy_assets(config: HubConfig) -> list[dg.AssetsDefinition]:
    """One asset per copy that holds a table of the graph (the `meta` tables it also copies
    are the store's own bookkeeping, not assets)."""
    agent = [ref for _, _, ref in agent_copy_tables(config)]
    analyst = [ref for _, _, ref in analyst_copy_tables(config) if not ref.startswith("meta.")]
    copies = []
    if agent:
        copies.append(
            _copy_asset(
                config,
                AGENT_COPY,
                agent,
                publish_agent_copy,
                f"`{config.store.agent_path}`: the products for agents, masked by the `agent` "
                "policies, with the serve batches they were copied from. The agents read it.",
            )
        )
    if analyst:
        copies.append(
            _copy_asset(
                config,
                ANALYST_COPY,
                analyst,
                publish_analyst_copy,
                f"`{config.store.analyst_path}`: `unified.*`, the products for analysts and "
                "the check history, masked by the `analyst` policies; `hub sql` and notebooks "
                "read it.",
            )
        )
    return copies


def _copy_asset(  # noqa: ANN202
    config: HubConfig,
    key: dg.AssetKey,
    tables: list[str],
    publish,  # noqa: ANN001
    description: str,
):
    @dg.asset(
        key=key,
        group_name="copies",
        kinds={"duckdb"},
        deps=keys_read(tables),
        automation_condition=dg.AutomationCondition.eager(),
        description=description,
        metadata={"tables": tables},
    )
    @openlineage(config)
    def copy(context: dg.AssetExecutionContext, hub: HubResource) -> dg.MaterializeResult:
        with hub.store.reader() as con:
            path = publish(con, hub.config)
        context.log.info(f"published {path}")
        return dg.MaterializeResult(metadata={"path": str(path), "tables": len(tables)})

    return copy
