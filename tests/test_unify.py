"""Standardisers and matching: the same client across silos becomes one customer."""

from __future__ import annotations

import duckdb
import pytest

from hub.config import EntityConfig
from hub.unify import define_standardisers, standardise, unify


@pytest.fixture
def con() -> duckdb.DuckDBPyConnection:
    connection = duckdb.connect()
    define_standardisers(connection)
    return connection


@pytest.mark.parametrize(
    ("steps", "raw", "expected"),
    [
        (["email"], "  Maria.Lopez@NorthWind.com ", "maria.lopez@northwind.com"),
        (["e164_phone"], "(415) 555-0101", "+14155550101"),
        (["e164_phone"], "001 415 555 0101", "+14155550101"),
        (["e164_phone"], "+44 20 7946 0958", "+442079460958"),
        (["company_name"], "NORTHWIND HEALTH, INC.", "northwind health"),
        (["company_name"], "Northwind  Health Inc", "northwind health"),
        (["trim"], "   ", None),
    ],
)
def test_standardisers(con, steps: list[str], raw: str, expected: str | None) -> None:
    con.execute("CREATE TABLE t AS SELECT ? AS v", [raw])
    assert con.execute(f"SELECT {standardise('v', steps)} FROM t").fetchone()[0] == expected


def test_unknown_standardiser_is_named() -> None:
    with pytest.raises(ValueError, match="unknown standardiser 'soundex'"):
        standardise("v", ["soundex"])


def test_match_by_email_then_company_name(con) -> None:
    con.execute("CREATE SCHEMA raw")
    con.execute(
        "CREATE TABLE raw.crm AS SELECT * FROM (VALUES ('C1', 'Acme Inc', 'ann@acme.com'), "
        "('C2', 'Globex Corp', 'hank@globex.com')) t(id, company, email)"
    )
    con.execute(
        "CREATE TABLE raw.billing AS SELECT * FROM (VALUES ('A1', 'ACME, INC.', ' Ann@Acme.com'), "
        "('A2', 'globex corporation', 'billing@globex.com'), ('A3', 'Initech', NULL)) "
        "t(id, company, email)"
    )
    entity = EntityConfig.model_validate(
        {
            "fields": {"name": {"standardise": ["trim"]}, "email": {"standardise": ["email"]}},
            "match_on": ["email", "name"],
            "sources": [
                {"table": "crm", "id": "id", "fields": {"name": "company", "email": "email"}},
                {"table": "billing", "id": "id", "fields": {"name": "company", "email": "email"}},
            ],
        }
    )

    result = unify(con, "customer", entity)

    xref = {(r["source"], r["source_id"]): r for r in result.xref.to_pylist()}
    assert xref[("billing", "A1")]["matched_on"] == "email"
    assert xref[("billing", "A1")]["customer_id"] == xref[("crm", "C1")]["customer_id"]
    assert xref[("billing", "A2")]["matched_on"] == "name"
    assert xref[("billing", "A2")]["customer_id"] == xref[("crm", "C2")]["customer_id"]
    assert xref[("billing", "A3")]["matched_on"] == "new"
    customers = {r["name"]: r for r in result.entities.to_pylist()}
    assert set(customers) == {"Acme Inc", "Globex Corp", "Initech"}  # CRM wins survivorship
    assert customers["Acme Inc"]["source_records"] == 2
