"""Raw assets: one per source table, loaded by its connector in one transaction."""

import traceback

import dagster as dg

from assets.keys import column_schema, key_for_table, table_metadata
from assets.openlineage import openlineage
from hub.config import HubConfig
from hub.load import LoadError, load_table
from hub.resource import HubResource
from hub.secrets import scrub

FULL_REFRESH_TAG = "hub/full_refresh"
"Run tag: raw assets start over (replace, cursors forgotten), as `hub run --full-refresh`."


def raw_assets(config: HubConfig) -> list[dg.AssetsDefinition]:
    return [_raw_asset(config, source, table) for source, table, _ in config.raw_tables()]


def _raw_asset(config: HubConfig, source: str, table: str) -> dg.AssetsDefinition:
    kind, schedule = config.sources[source].kind, config.sources[source].schedule

    @dg.asset(
        key=key_for_table(f"raw.{source}__{table}"),
        group_name="raw",
        kinds={"duckdb", kind},
        owners=config.sources[source].owners,
        description=f"`raw.{source}__{table}`: {table} from the {kind} source `{source}`, "
        "with lineage columns; rejected rows go to `rejects.*`.",
        metadata={
            "source": source,
            "schedule": schedule or "on demand",
            **column_schema(config, f"raw.{source}__{table}"),
        },
    )
    @openlineage(config)
    def load(context: dg.AssetExecutionContext, hub: HubResource) -> dg.MaterializeResult:
        full_refresh = context.run.tags.get(FULL_REFRESH_TAG) == "true"
        try:
            result = load_table(
                hub.config, hub.store, source, table, context.run_id, full_refresh=full_refresh
            )
        except LoadError as exc:
            raise dg.Failure(description=scrub(str(exc))) from None
        except Exception as exc:  # a connector's own bug: its text may hold a source URL
            raise dg.Failure(
                description=f"source {source}, table {table}: {type(exc).__name__}: "
                f"{scrub(str(exc))}. The last good data is kept.",
                metadata={"traceback": dg.MetadataValue.text(scrub(traceback.format_exc()))},
            ) from None
        if result.rejected:
            context.log.warning(f"{result.rejected} row(s) rejected; see rejects.{source}__{table}")
        if result.batch_id is None:
            context.log.info(f"nothing new past the cursor ({result.cursor}); the data stays")
        with hub.store.reader() as con:
            metadata = table_metadata(con, hub.config, result.table, result.rows)
        return dg.MaterializeResult(
            metadata={
                **metadata,
                "batch_id": result.batch_id or "(unchanged)",
                "rows_read": result.read,
                "rows_written": result.written,
                "rejected": result.rejected,
                "cursor": result.cursor or "",
                "schema_changes": result.schema_changes,
                "read_from": result.location,
                "full_refresh": full_refresh,
            }
        )

    return load
