"""Unification: standardise, match and merge source records into one entity.

Standardisers are DuckDB macros applied to the mapped columns. Matching walks the records
in source priority order; a record joins the first entity that shares a match key, tried in
`match_on` order (e-mail first, then company name as the fallback), otherwise it starts a new
entity. Survivorship: each field takes the first non-empty value in priority order.
The crosswalk `unified.<entity>_xref` says which entity every source record went to and why.
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass

import duckdb
import pyarrow as pa

from hub.config import EntityConfig
from hub.store import quote_column, quote_ident, table_ref

STANDARDISERS = {
    "trim": "nullif(trim(CAST(x AS VARCHAR)), '')",
    "lower": "lower(x)",
    "upper": "upper(x)",
    "email": "nullif(lower(trim(CAST(x AS VARCHAR))), '')",
    "e164_phone": (
        "CASE WHEN x IS NULL OR regexp_replace(x, '[^0-9]', '', 'g') = '' THEN NULL "
        "WHEN starts_with(regexp_replace(x, '[^0-9]', '', 'g'), '00') "
        "THEN '+' || regexp_replace(x, '[^0-9]', '', 'g')[3:] "
        "WHEN length(regexp_replace(x, '[^0-9]', '', 'g')) = 10 "
        "THEN '+1' || regexp_replace(x, '[^0-9]', '', 'g') "
        "ELSE '+' || regexp_replace(x, '[^0-9]', '', 'g') END"
    ),
    "company_name": (
        "nullif(regexp_replace(trim(regexp_replace(regexp_replace(lower(CAST(x AS VARCHAR)), "
        "'[^a-z0-9]+', ' ', 'g'), '\\s+', ' ', 'g')), "
        "'\\s(inc|incorporated|corp|corporation|ltd|limited|llc|gmbh|plc|co|sa|ag)$', ''), '')"
    ),
}


@dataclass(frozen=True)
class Unified:
    entities: pa.Table
    xref: pa.Table


def define_standardisers(con: duckdb.DuckDBPyConnection) -> None:
    for name, body in STANDARDISERS.items():
        con.execute(f"CREATE OR REPLACE TEMP MACRO hub_{name}(x) AS {body}")


def standardise(column: str, steps: list[str]) -> str:
    """SQL for `column` passed through the named standardisers, in order."""
    expression = quote_column(column)
    for step in steps:
        if step not in STANDARDISERS:
            raise ValueError(f"unknown standardiser {step!r}; known: {sorted(STANDARDISERS)}")
        expression = f"hub_{step}({expression})"
    return expression


def unify(con: duckdb.DuckDBPyConnection, name: str, entity: EntityConfig) -> Unified:
    """Build the entity and its crosswalk from the raw tables (reads only)."""
    define_standardisers(con)
    fields = list(entity.fields)
    records: list[dict[str, str | None]] = []
    for source in entity.sources:
        selects = [f"CAST({quote_column(source.id)} AS VARCHAR) AS source_id"]
        for field in fields:
            spec = entity.fields[field]
            column = source.fields.get(field)
            value = standardise(column, spec.standardise) if column else "NULL"
            selects.append(f"{value} AS {quote_ident(field)}")
        for field in entity.match_on:
            column = source.fields.get(field)
            key = standardise(column, [*entity.fields[field].standardise, *_match_steps(field)])
            selects.append(f"{key if column else 'NULL'} AS {quote_ident('_key_' + field)}")
        sql = f"SELECT {', '.join(selects)} FROM {table_ref('raw', source.table)} ORDER BY 1"
        cursor = con.execute(sql)
        columns = [d[0] for d in cursor.description]
        for row in cursor.fetchall():
            records.append({"source": source.table, **dict(zip(columns, row, strict=True))})
    return _match_and_merge(name, entity, records)


def _match_steps(field: str) -> list[str]:
    return ["company_name"] if field == "name" else []


def _match_and_merge(name: str, entity: EntityConfig, records: list[dict]) -> Unified:
    owner: dict[tuple[str, str], str] = {}
    members: dict[str, list[dict]] = {}
    xref: list[dict[str, str]] = []
    for record in records:
        entity_id, matched_on = None, "new"
        for field in entity.match_on:
            key = record[f"_key_{field}"]
            if key is not None and (field, key) in owner:
                entity_id, matched_on = owner[(field, key)], field
                break
        if entity_id is None:
            seed = f"{record['source']}:{record['source_id']}".encode()
            entity_id = f"{name[:3].upper()}-{hashlib.sha1(seed).hexdigest()[:8]}"  # noqa: S324
            members[entity_id] = []
        members[entity_id].append(record)
        for field in entity.match_on:
            key = record[f"_key_{field}"]
            if key is not None:
                owner.setdefault((field, key), entity_id)
        xref.append(
            {
                "source": record["source"],
                "source_id": record["source_id"],
                f"{name}_id": entity_id,
                "matched_on": matched_on,
            }
        )
    rows = []
    for entity_id, group in members.items():
        merged = {f"{name}_id": entity_id}
        for field in entity.fields:
            merged[field] = next((r[field] for r in group if r[field] is not None), None)
        merged["source_records"] = len(group)
        rows.append(merged)
    schema_fields = [f"{name}_id", *entity.fields]
    entities = pa.Table.from_pylist(
        rows,
        schema=pa.schema(
            [(f, pa.string()) for f in schema_fields] + [("source_records", pa.int64())]
        ),
    )
    xref_table = pa.Table.from_pylist(
        xref,
        schema=pa.schema(
            [(c, pa.string()) for c in ("source", "source_id", f"{name}_id", "matched_on")]
        ),
    )
    return Unified(entities=entities, xref=xref_table)
