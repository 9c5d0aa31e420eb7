"""Data contracts out: a table's promise as an Open Data Contract Standard (ODCS v3) document.

`contract_for` describes a serve product (or any checked table: `raw.<source>__<table>`,
`unified.<entity>`) the way a consumer needs it: its columns with their DuckDB types (read
from the store when the table is built, else DuckDB's DESCRIBE of the product's SQL), the
descriptions hub.yaml declares, each PII class (`classification`, from the declarations and
the product's lineage) with how each audience that reads the table sees it
(`customProperties: masking`), the primary key, the owners (`team`, each a member with role
`owner`), the freshness (`slaProperties`) and every check Groundwork runs on the table, as
`hub.contract_rules` writes them so `hub contract import` gives back the same checks. The
checks Groundwork runs on loads only (`references`, `rejects`, `schema`, `row_drop`) come
from a source's configuration and are not part of a table's contract.

A contract is written for an audience (`access.default_audience` unless one is given, as
`hub sql` reads): on a PII column that audience does not see in clear, a rule's values are
shown as the audience sees the column (`value_set`, `value` masked or hashed by its policy),
and a rule with other values (a pattern, bounds) becomes a `text` rule saying the values are
withheld; the steward's contract has them all. The text is scrubbed of known secrets.

`version` is `1.0.0+<hash of the schema and its rules>`: two exports of the same promise
carry the same version, any change shows. `status` is `active` once the table is built.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import json
from contextlib import nullcontext
from typing import Any

import duckdb

from hub.config import AUDIENCES, CheckConfig, HubConfig
from hub.contract_rules import SEVERITY, ContractError, logical_type, place

__all__ = ["ContractError", "contract_for", "contract_yaml", "dump", "table_of"]
API_VERSION = "v3.1.0"
"The ODCS version written (the Team object and the library metrics are v3.1's)."


def contract_yaml(
    config: HubConfig,
    product: str,
    con: duckdb.DuckDBPyConnection | None = None,
    *,
    audience: str | None = None,
) -> str:
    """`contract_for` as YAML text (what `hub contract export` prints); the audience is
    `access.default_audience` unless one is given."""
    return dump(contract_for(config, product, con, audience=audience))


def dump(document: dict[str, Any]) -> str:
    """A contract as YAML, its keys in the order the document has them, scrubbed of every
    known secret."""
    import yaml

    from hub.secrets import scrub

    return scrub(yaml.safe_dump(document, sort_keys=False, allow_unicode=True, width=100))


def contract_for(
    config: HubConfig,
    product: str,
    con: duckdb.DuckDBPyConnection | None = None,
    *,
    audience: str | None = None,
) -> dict[str, Any]:
    """The ODCS v3 document of a serve product (`clients`) or a table (`raw.crm__clients`),
    validated by the ODCS models. `con`: a connection to the store (default: a read-only
    one when the store exists). `audience`: the contract of an export to that audience
    (default: `access.default_audience`); rules on PII columns it does not see in clear
    show their values masked, or withheld."""
    from open_data_contract_standard.model import OpenDataContractStandard

    from hub.store import Store

    audience = audience or config.access.default_audience

    ref = table_of(config, product)
    store = Store.of(config)
    opened = store.reader() if con is None and store.path.exists() else nullcontext(con)
    with opened as reader:
        columns, pii, built = _columns(config, ref, reader)
    layer, _, name = ref.partition(".")
    readers = _readers(config, ref)
    properties = {c: _property(config, ref, c, t, pii.get(c), readers) for c, t in columns.items()}
    schema_quality = _quality(config, ref, properties, audience)
    body = {
        "name": name,
        "physicalName": ref,
        "physicalType": "table",
        "description": _description(config, ref) or None,
        "properties": list(properties.values()),
        "quality": schema_quality or None,
    }
    digest = hashlib.sha256(json.dumps(body, sort_keys=True, default=str).encode()).hexdigest()
    document = {
        "apiVersion": API_VERSION,
        "kind": "DataContract",
        "id": f"{config.project}.{ref}",
        "name": ref,
        "version": f"1.0.0+{digest[:12]}",
        "status": "active" if built else "draft",
        "description": _purpose(config, ref, readers, bool(pii)),
        "schema": [body],
        "team": _team(config, ref),
        "slaProperties": freshness(config, ref) or None,
        "servers": [
            {"server": "hub", "type": "duckdb", "database": config.store.path, "schema": layer}
        ],
        "customProperties": [{"property": "audience", "value": audience}],
    }
    model = OpenDataContractStandard.model_validate(document)
    validated = model.model_dump(exclude_none=True, by_alias=True)
    return {key: validated[key] for key in document if key in validated}


def table_of(config: HubConfig, product: str) -> str:
    """`clients` -> `serve.clients`; a `layer.table` the project checks stays as it is."""
    from quality.specs import primary_keys

    ref = product if "." in product else f"serve.{product}"
    known = primary_keys(config)
    if ref not in known:
        products = ", ".join(config.serve) or "none"
        raise ContractError(
            f"no product or table {product!r} in this project (its products: {products}). "
            "Fix: name a serve product, or a table as `raw.<source>__<table>` / "
            "`unified.<entity>` (`hub status` lists them)."
        )
    return ref


def freshness(config: HubConfig, ref: str) -> list[dict[str, Any]]:
    """ODCS SLA properties: each scheduled source upstream of `ref` refreshes on its cron
    (`frequency`), and the table lags its sources by at most the longest gap between two
    ticks of their crons (`latency`): one missed refresh is overdue, as Dagster's freshness
    checks on the sources say (`assets.schedules`)."""
    from hub.cron import longest_gap
    from hub.gate import upstream_tables

    sources = [
        t.partition(".")[2].partition("__")[0]
        for t in upstream_tables(config, ref)
        if t.startswith("raw.")
    ]
    found: list[dict[str, Any]] = []
    longest = dt.timedelta(0)
    for source in dict.fromkeys(sources):
        cron = config.sources[source].schedule if source in config.sources else None
        if not cron:
            continue
        gap = longest_gap(cron)
        longest = max(longest, gap or longest)
        found.append(
            {
                "property": "frequency",
                **(_duration(gap) if gap else {"value": cron}),
                "scheduler": "cron",
                "schedule": cron,
                "description": f"source {source} is reloaded on its cron schedule",
            }
        )
    if longest:
        found.append(
            {
                "property": "latency",
                **_duration(longest),
                "description": "the data lags its scheduled sources by at most one refresh "
                "interval; later is overdue (Dagster's freshness checks warn)",
            }
        )
    return found


def _duration(gap: dt.timedelta) -> dict[str, Any]:
    minutes = int(gap.total_seconds() // 60)
    for unit, size in (("d", 1440), ("h", 60)):
        if minutes % size == 0:
            return {"value": minutes // size, "unit": unit}
    return {"value": minutes, "unit": "min"}


def _columns(
    config: HubConfig, ref: str, con: duckdb.DuckDBPyConnection | None
) -> tuple[dict[str, str | None], dict[str, str], bool]:
    """(column -> DuckDB type, column -> PII class, whether the table is built)."""
    from hub.config_links import output_columns
    from hub.governance import GovernanceError, pii_of
    from hub.schema import columns_of
    from hub.store import split_ref, table_exists, table_ref

    layer, _, name = ref.partition(".")
    named = output_columns(config.serve[name].sql) if layer == "serve" else None
    declared: dict[str, str | None] = dict.fromkeys([*sorted(named or []), *_declared(config, ref)])
    if con is None:
        return declared, pii_of(config, ref), False
    built = table_exists(con, *split_ref(ref))
    try:
        if built:
            columns = columns_of(con, table_ref(*split_ref(ref)))
        elif layer == "serve":
            columns = columns_of(con, config.serve[name].sql)
        else:
            columns = declared
        pii = pii_of(config, ref, con)
    except duckdb.Error:  # a product whose inputs are not built yet
        return declared, pii_of(config, ref), False
    except GovernanceError as exc:
        raise ContractError(str(exc)) from None
    return columns, pii, built


def _declared(config: HubConfig, ref: str) -> dict[str, Any]:
    """column -> what hub.yaml declares of it (description, pii)."""
    layer, _, name = ref.partition(".")
    if layer == "raw":
        source, _, table = name.partition("__")
        return dict(config.sources[source].tables[table].columns)
    if layer == "unified":
        return dict(config.entities[name].fields) if name in config.entities else {}
    return dict(config.serve[name].columns)


def _readers(config: HubConfig, ref: str) -> list[str]:
    """The audiences that read `ref`, least privileged first."""
    layer, _, name = ref.partition(".")
    lowest = {"serve": config.serve[name].audience if layer == "serve" else None}
    lowest |= {"unified": "analyst", "raw": "steward"}
    return list(AUDIENCES[AUDIENCES.index(lowest[layer]) :])


def _property(
    config: HubConfig, ref: str, column: str, kind: str | None, pii: str | None, readers: list
) -> dict[str, Any]:
    from hub.governance import policies_for
    from hub.masking import policy_for

    spec = _declared(config, ref).get(column)
    found: dict[str, Any] = {"name": column, "physicalType": kind}
    found["logicalType"] = logical_type(kind) if kind else None
    found["description"] = getattr(spec, "description", "") or None
    if pii:
        shown = {a: policy_for(pii, policies_for(config, a)) for a in readers}
        found["classification"] = pii
        found["tags"] = ["pii"]
        found["customProperties"] = [
            {
                "property": "masking",
                "value": shown,
                "description": "how each audience that reads the table sees this column "
                "(clear, mask, hash, or redact: NULL)",
            }
        ]
    return found


_STRUCTURAL = {"column", "column_A", "column_B", "column_list", "column_set", "mostly"}
_STRUCTURAL |= {"strict_min", "strict_max", "type_", "type_list", "ignore_row_if", "or_equal"}
_STRUCTURAL |= {"strictly", "exact_match", "ties_okay", "match_on", "result_format"}
"Arguments that hold no value of the column: shown to every audience."
_MASKABLE = ("value_set", "value")
"Arguments holding values of the column, shown as the audience sees the column."


def _for_audience(
    config: HubConfig, spec: Any, pii: str | None, audience: str
) -> tuple[dict, dict | None]:
    """(the kwargs the audience may see, the rule to write instead when it may not)."""
    from hub.governance import policies_for, salt
    from hub.masking import mask_values, policy_for

    kwargs = dict(spec.kwargs)
    if not pii:
        return kwargs, None
    policy = policy_for(pii, policies_for(config, audience))
    valued = set(kwargs) - _STRUCTURAL
    if policy == "clear" or not valued:
        return kwargs, None
    note = f"values shown as the {audience} audience sees this {pii} column ({policy})"
    if policy != "redact" and valued <= set(_MASKABLE):
        for name in valued:
            given = kwargs[name]
            values = given if isinstance(given, list) else [given]
            shown = mask_values(values, pii, policy, salt(config))
            kwargs[name] = shown if isinstance(given, list) else shown[0]
        return kwargs, {"description": note}
    return kwargs, {
        "type": "text",
        "description": f"{spec.expectation} on {kwargs.get('column')}: its values are "
        f"withheld from the {audience} audience ({pii}: {policy})",
    }


def _quality(config: HubConfig, ref: str, properties: dict[str, dict], audience: str) -> list[dict]:
    """Every expectation run on `ref`: written on its column's property (`properties`,
    changed in place) where ODCS can say it there, else returned as the table's rules.
    Values of PII columns are shown as `audience` sees them (`_for_audience`)."""
    from quality.specs import primary_keys, table_checks

    key = primary_keys(config)[ref]
    for position, column in enumerate(key, start=1):
        if column in properties:
            properties[column] |= {"primaryKey": True, "primaryKeyPosition": position}
    table_rules: list[dict] = []
    for spec in table_checks(config).get(ref, []):
        if spec.expectation is None:
            continue  # references, rejects, schema, row_drop: the source's load checks
        named = spec.kwargs.get("column")
        column = properties.get(named) if isinstance(named, str) else None
        pii = column.get("classification") if column is not None else None
        kwargs, instead = _for_audience(config, spec, pii, audience)
        if instead is not None and instead.get("type") == "text":
            rule = instead
        else:
            rule = place(spec.expectation, kwargs, spec.blocking, properties, key)
            if rule is None:
                continue
            rule |= instead or {}
        default = CheckConfig(expect=spec.expectation, kwargs=spec.kwargs).check_name
        rule = {"name": spec.name if spec.name != default else None, **rule}
        rule["severity"] = SEVERITY[spec.blocking]
        if column is not None and rule.get("metric") != "rowCount":
            column.setdefault("quality", []).append(rule)
        else:
            table_rules.append(rule)
    return table_rules


def _description(config: HubConfig, ref: str) -> str:
    layer, _, name = ref.partition(".")
    if layer == "serve":
        return config.serve[name].description
    if layer == "unified":
        return config.entities[name.removesuffix("_xref")].description
    source, _, table = name.partition("__")
    return f"Table {table} of source {source} ({config.sources[source].kind}), as loaded."


def _purpose(config: HubConfig, ref: str, readers: list[str], pii: bool) -> dict[str, str]:
    masked = "; personal data is masked per audience as each property's `masking` says"
    found = {"usage": f"Read as `{ref}` by the audiences {', '.join(readers)}{masked * pii}."}
    if _description(config, ref):
        found["purpose"] = _description(config, ref)
    return found


def _team(config: HubConfig, ref: str) -> dict[str, Any] | None:
    """The owners hub.yaml gives the table (Dagster's owners), each a member `owner`."""
    layer, _, name = ref.partition(".")
    if layer == "serve":
        owners = config.serve[name].owners
    elif layer == "unified":
        owners = config.entities[name.removesuffix("_xref")].owners
    else:
        owners = config.sources[name.partition("__")[0]].owners
    if not owners:
        return None
    teams = [o.removeprefix("team:") for o in owners if o.startswith("team:")]
    members = [{"username": owner, "role": "owner"} for owner in owners]
    return {"name": teams[0] if teams else f"{config.project} owners", "members": members}
