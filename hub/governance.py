"""Governance: which columns hold personal data, and what each audience sees of them.

A column is PII when `hub.yaml` says so where it is declared: `columns.<c>.pii` of a source
table or a product, `fields.<f>.pii` of an entity. A product's columns also take the class
of every column they are computed from, traced through its SQL (`hub.lineage`): renaming
`email AS contact`, `lower(phone)` or reading another product keeps the class. `pii: none`
on a product column says it is not personal data whatever it comes from. A product whose
columns cannot be traced, and that does not declare every column, is refused to everyone
but the steward: a guess is not a policy.

Audiences are ordered `agent` < `analyst` < `steward`; the steward reads the store itself,
in clear; the others read published copies (`hub.copies`) masked by their policies.
"""

from __future__ import annotations

import duckdb

from hub.config import AUDIENCES, HubConfig
from hub.lineage import LineageError, column_sources, tables_read
from hub.masking import define_hash, hash_salt, mask_values, masked_select, policy_for
from hub.store import split_ref, table_exists, table_ref

NOT_PII = "none"
"`pii: none` on a product column: not personal data, whatever lineage says."


class GovernanceError(Exception):
    """A product cannot be published masked; the message says which column and the fix."""


def pii_of(
    config: HubConfig, ref: str, con: duckdb.DuckDBPyConnection | None = None
) -> dict[str, str]:
    """column -> PII class of one table (`raw.crm__clients`, `unified.customer`, ...). A
    product's classes come from its lineage, which needs `con` (the store) to read the
    columns of its inputs; without it, only what the product declares."""
    layer, _, name = ref.partition(".")
    if layer in ("raw", "rejects"):
        source, _, table = name.partition("__")
        tables = config.sources[source].tables if source in config.sources else {}
        columns = tables[table].columns if table in tables else {}
        return {c: spec.pii for c, spec in columns.items() if spec.pii}
    if layer == "unified" and name in config.entities:
        return {f: spec.pii for f, spec in config.entities[name].fields.items() if spec.pii}
    if layer == "serve" and name in config.serve:
        declared = {c: s.pii for c, s in config.serve[name].columns.items() if s.pii}
        traced = _traced(config, name, con) if con is not None else {}
        return {c: p for c, p in (traced | declared).items() if p != NOT_PII}
    return {}


def _traced(config: HubConfig, name: str, con: duckdb.DuckDBPyConnection) -> dict[str, str]:
    product = config.serve[name]
    columns = [row[0] for row in con.execute(f"DESCRIBE {product.sql}").fetchall()]
    schema: dict[str, dict[str, dict[str, str]]] = {}
    for ref in tables_read(product.sql):
        layer, table = split_ref(ref)
        if table_exists(con, layer, table):
            described = con.execute(f"DESCRIBE {table_ref(layer, table)}").fetchall()
            schema.setdefault(layer, {})[table] = {c[0]: str(c[1]) for c in described}
    try:
        sources = column_sources(product.sql, schema, columns)
    except LineageError as exc:
        undeclared = [c for c in columns if c not in product.columns]
        if product.audience == "steward" or not undeclared:
            return {}
        raise GovernanceError(
            f"serve.{name}: the columns {undeclared} cannot be traced to their sources "
            f"({exc}), so nobody can tell whether they hold personal data. Fix: declare each "
            f"under serve.{name}.columns, with `pii: <class>` or `pii: none`."
        ) from None
    inputs = {ref: pii_of(config, ref, con) for ref in {t for s in sources.values() for t, _ in s}}
    classes = {}
    for column, found in sources.items():
        kinds = sorted({inputs[t][c] for t, c in found if c in inputs[t]})
        if kinds:
            classes[column] = "+".join(kinds)
    return classes


def policies_for(config: HubConfig, audience: str) -> dict[str, str]:
    """class -> policy for the audience; the steward sees every class in clear."""
    if audience == "steward":
        return {pii: "clear" for _, pii in config.pii_declarations()}
    return dict(config.governance.policies.get(audience, {}))


def salt(config: HubConfig) -> str:
    return hash_salt(config.governance.hash_salt, config.resolve(config.store.path))


def masked_columns(
    con: duckdb.DuckDBPyConnection, config: HubConfig, ref: str, audience: str
) -> str:
    """The SELECT list of `ref` as `audience` sees it; defines `hub_hash` on `con`."""
    define_hash(con, salt(config))
    columns = [row[0] for row in con.execute(f"DESCRIBE {table_ref(*split_ref(ref))}").fetchall()]
    return masked_select(columns, pii_of(config, ref, con), policies_for(config, audience))


def mask_check_details(
    config: HubConfig,
    ref: str,
    pii: dict[str, str],
    kwargs: dict,
    details: dict[str, object],
    key: list[str] = (),
) -> dict[str, object]:
    """A check's result details as the analyst audience may see them: samples and observed
    values of PII columns, and the sampled rows' keys (`key` columns) where the key is PII,
    masked by the strictest policy among them; reject reasons (which quote values) cut to
    their kind when the table has PII. Dagster and `meta.check_results` both get this."""
    columns = [kwargs.get(k) for k in ("column", "column_A", "column_B")]
    columns += list(kwargs.get("column_list") or [])
    if isinstance(kwargs.get("columns"), list):
        columns += kwargs["columns"]
    shown = dict(details)
    for fields, named in (
        (("unexpected_sample", "observed_value"), columns),
        (("unexpected_keys",), list(key)),
    ):
        classes = sorted({pii[c] for c in named if isinstance(c, str) and c in pii})
        if not classes:
            continue
        pii_class = "+".join(classes)
        policy = policy_for(pii_class, policies_for(config, "analyst"))
        for field in fields:
            value = shown.get(field)
            if isinstance(value, list):
                shown[field] = mask_values(value, pii_class, policy, salt(config))
            elif value is not None and not isinstance(value, int | float | bool):
                shown[field] = mask_values([value], pii_class, policy, salt(config))[0]
    if pii and isinstance(shown.get("reject_sample"), list):
        shown["reject_sample"] = [
            str(r).partition(": ")[0] + ": (reason withheld: the table has PII; read "
            f"rejects.{ref.partition('.')[2]} as steward)"
            for r in shown["reject_sample"]
        ]
    return shown


def publish(
    con: duckdb.DuckDBPyConnection, config: HubConfig, name: str
) -> tuple[int, dict[str, str]]:
    """(Re)build `serve.<name>` from its SQL; returns its row count and its columns' PII
    classes. Call in a transaction: refused (GovernanceError) when those cannot be told."""
    con.execute(f"CREATE OR REPLACE TABLE {table_ref('serve', name)} AS {config.serve[name].sql}")
    pii = pii_of(config, f"serve.{name}", con)
    return con.execute(f"SELECT count(*) FROM {table_ref('serve', name)}").fetchone()[0], pii


def readable_by(config: HubConfig, audience: str) -> list[str]:
    """The serve products an audience may read: those for it and for less privileged ones."""
    rank = AUDIENCES.index(audience)
    return [n for n, p in config.serve.items() if AUDIENCES.index(p.audience) <= rank]
