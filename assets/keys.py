"""Asset keys are the DuckDB tables they write, layer then name: raw/crm__clients,
unified/customer, unified/customer_xref, serve/clients; agents/<agent> and the audiences'
copies copies/agent_copy, copies/analyst_copy. The Dagster UI labels an asset by the last
part of its key, so those names are kept unique (`unique_labels`)."""

import dagster as dg
import duckdb

from hub.config import ConfigError, HubConfig
from hub.gate import entity_of
from hub.governance import masked_columns
from hub.store import split_ref, table_ref


def key_for_table(ref: str) -> dg.AssetKey:
    """`raw.crm__clients` -> raw/crm__clients; `unified.customer_xref` -> unified/customer_xref."""
    layer, _, name = ref.partition(".")
    return dg.AssetKey([layer, name])


def keys_read(refs: list[str]) -> list[dg.AssetKey]:
    """The assets a build reading `refs` waits for: a crosswalk is proven by its entity's
    checks (the gate's rule), so reading `unified.X_xref` waits for `unified.X` too."""
    return list(dict.fromkeys(key_for_table(r) for ref in refs for r in (ref, entity_of(ref))))


def unique_labels(keys: list[dg.AssetKey]) -> None:
    """A ConfigError when two assets would carry the same label in the Dagster UI."""
    seen: dict[str, dg.AssetKey] = {}
    for key in keys:
        label = key.path[-1]
        if label in seen and seen[label] != key:
            raise ConfigError(
                f"assets {seen[label].to_user_string()} and {key.to_user_string()} would both "
                f"be labelled {label!r} in the Dagster UI. Fix: rename one of them in hub.yaml."
            )
        seen[label] = key


def table_metadata(con: duckdb.DuckDBPyConnection, config: HubConfig, ref: str, rows: int) -> dict:
    """Row count, column schema (with what hub.yaml declares of each column) and a preview
    for the Dagster UI; the preview shows PII as the analyst audience sees it (Dagster keeps
    metadata in its run history)."""
    schema, table = split_ref(ref)
    columns = con.execute(f"DESCRIBE {table_ref(schema, table)}").fetchall()
    shown = masked_columns(con, config, ref, "analyst")
    preview = con.execute(f"SELECT {shown} FROM {table_ref(schema, table)} LIMIT 5").df()
    declared = _declared_columns(config, ref)
    return {
        "table": ref,
        "dagster/row_count": rows,
        "dagster/column_schema": dg.TableSchema(
            columns=[_column(name, str(type_), declared.get(name)) for name, type_, *_ in columns]
        ),
        "preview": dg.MetadataValue.md(preview.to_markdown(index=False)),
    }


def column_schema(config: HubConfig, ref: str) -> dict:
    """The columns hub.yaml declares for `ref`, as definition metadata: the UI shows them
    before the first materialization (which then reports every column, with its type)."""
    declared = _declared_columns(config, ref)
    if not declared:
        return {}
    columns = [
        _column(name, getattr(spec, "type", None) or "", spec) for name, spec in declared.items()
    ]
    return {"dagster/column_schema": dg.TableSchema(columns=columns)}


def _column(name: str, type_: str, spec: object | None) -> dg.TableColumn:
    """One column: its description, and as tags its PII class and declared type."""
    if spec is None:
        return dg.TableColumn(name=name, type=type_)
    tags = {"pii": spec.pii} if spec.pii else {}
    if declared := getattr(spec, "type", None):
        tags["declared_type"] = declared
    if standardise := getattr(spec, "standardise", None):
        tags["standardise"] = ", ".join(standardise)
    return dg.TableColumn(
        name=name, type=type_ or "unknown", description=spec.description or None, tags=tags
    )


def _declared_columns(config: HubConfig, ref: str) -> dict:
    """column -> what hub.yaml declares of it (description, PII class, type)."""
    layer, _, name = ref.partition(".")
    if layer == "raw":
        source, _, table = name.partition("__")
        tables = config.sources[source].tables if source in config.sources else {}
        return tables[table].columns if table in tables else {}
    if layer == "unified" and name in config.entities:
        return config.entities[name].fields
    if layer == "serve" and name in config.serve:
        return config.serve[name].columns
    return {}


def gated_automation() -> dg.AutomationCondition:
    """Run when an input was updated, only once every blocking check on the inputs passed:
    declarative automation never launches the asset on unproven data (the gate inside the
    step stays as the last line)."""
    return dg.AutomationCondition.eager() & dg.AutomationCondition.all_deps_blocking_checks_passed()
