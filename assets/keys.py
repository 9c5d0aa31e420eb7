"""Asset keys follow the layers: ["raw", source, table], ["unified", entity], ["serve",
product], ["agents", agent]. DuckDB tables follow the same names: `raw.<source>__<table>`."""

import dagster as dg
import duckdb

from hub.config import HubConfig
from hub.governance import masked_columns
from hub.store import split_ref, table_ref


def key_for_table(ref: str) -> dg.AssetKey:
    """`raw.crm__clients` -> raw/crm/clients; `unified.customer_xref` -> unified/customer."""
    layer, _, name = ref.partition(".")
    if layer == "raw":
        source, _, table = name.partition("__")
        return dg.AssetKey(["raw", source, table])
    if layer == "unified":
        return dg.AssetKey(["unified", name.removesuffix("_xref")])
    return dg.AssetKey([layer, name])


def table_metadata(con: duckdb.DuckDBPyConnection, config: HubConfig, ref: str, rows: int) -> dict:
    """Row count, column schema and a preview for the Dagster UI; the preview shows PII as
    the analyst audience sees it (Dagster keeps metadata in its run history)."""
    schema, table = split_ref(ref)
    columns = con.execute(f"DESCRIBE {table_ref(schema, table)}").fetchall()
    shown = masked_columns(con, config, ref, "analyst")
    preview = con.execute(f"SELECT {shown} FROM {table_ref(schema, table)} LIMIT 5").df()
    described = _descriptions(config, ref)
    return {
        "table": ref,
        "dagster/row_count": rows,
        "dagster/column_schema": dg.TableSchema(
            columns=[
                dg.TableColumn(name=c[0], type=str(c[1]), description=described.get(c[0]))
                for c in columns
            ]
        ),
        "preview": dg.MetadataValue.md(preview.to_markdown(index=False)),
    }


def _descriptions(config: HubConfig, ref: str) -> dict[str, str]:
    """column -> its description from hub.yaml, with its declared type and PII class."""
    layer, _, name = ref.partition(".")
    declared: dict = {}
    if layer == "raw":
        source, _, table = name.partition("__")
        declared = config.sources[source].tables[table].columns if source in config.sources else {}
    elif layer == "unified" and name in config.entities:
        declared = config.entities[name].fields
    elif layer == "serve" and name in config.serve:
        declared = config.serve[name].columns
    found = {}
    for column, spec in declared.items():
        notes = [
            f"declared {spec.type}" if getattr(spec, "type", None) else "",
            f"PII: {spec.pii}" if spec.pii else "",
        ]
        text = " ".join([spec.description, *(f"({n})" for n in notes if n)]).strip()
        if text:
            found[column] = text
    return found


def gated_automation() -> dg.AutomationCondition:
    """Run when an input was updated, only once every blocking check on the inputs passed:
    declarative automation never launches the asset on unproven data (the gate inside the
    step stays as the last line)."""
    return dg.AutomationCondition.eager() & dg.AutomationCondition.all_deps_blocking_checks_passed()
