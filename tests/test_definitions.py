"""The code location loads, and its graph is exactly what we expect (a snapshot).

A change to the demo graph shows up here in review: update the snapshot on purpose.
"""

from __future__ import annotations

import importlib

import dagster as dg
import pytest

from assets import build_definitions
from hub.config import load_config
from hub.demo import DEMO_CONFIG

ASSETS = [
    "agents/onboarding",
    "copies/agent_copy",
    "copies/analyst_copy",
    "raw/billing__accounts",
    "raw/billing__invoices",
    "raw/crm__clients",
    "raw/crm__contacts",
    "raw/docs__onboarding",
    "raw/support__tickets",
    "serve/clients",
    "serve/onboarding_docs",
    "unified/customer",
    "unified/customer_xref",
]
STRUCTURAL = ["not_null__{pk}", "rejects", "row_count", "schema", "unique__{pk}"]
CHECKS = sorted(
    [
        f"raw/{t}:{c.format(pk=pk)}"
        for t, pk in [
            ("billing__accounts", "account_id"),
            ("billing__invoices", "invoice_id"),
            ("crm__clients", "client_id"),
            ("crm__contacts", "contact_id"),
            ("docs__onboarding", "doc_id"),
            ("support__tickets", "ticket_id"),
        ]
        for c in STRUCTURAL
    ]
    + [
        f"{t}:{c.format(pk=pk)}"
        for t, pk in [
            ("unified/customer", "customer_id"),
            ("serve/clients", "customer_id"),
            ("serve/onboarding_docs", "doc_id"),
        ]
        for c in STRUCTURAL
        if c not in ("rejects", "schema")
    ]
    + [
        "raw/billing__invoices:between__amount",
        "raw/billing__invoices:in_set__status",
        "raw/billing__invoices:references__account_id",
        "raw/crm__clients:freshness_check",  # the scheduled sources' tables
        "raw/crm__clients:match_regex__email",
        "raw/crm__contacts:freshness_check",
        "raw/crm__contacts:references__client_id",
        "raw/support__tickets:freshness_check",
        "serve/clients:not_null__email",
        "unified/customer:not_null__name",
    ]
)


@pytest.fixture(scope="module")
def defs() -> dg.Definitions:
    return build_definitions(load_config(DEMO_CONFIG), str(DEMO_CONFIG))


def test_asset_graph_snapshot(defs: dg.Definitions) -> None:
    graph = defs.resolve_asset_graph()
    assert sorted(k.to_user_string() for k in graph.get_all_asset_keys()) == ASSETS
    checks = sorted(f"{k.asset_key.to_user_string()}:{k.name}" for k in graph.asset_check_keys)
    assert checks == CHECKS


def test_layers_are_wired_raw_to_agents(defs: dg.Definitions) -> None:
    graph = defs.resolve_asset_graph()

    def parents(key: str) -> list[str]:
        return sorted(
            p.to_user_string() for p in graph.get(dg.AssetKey(key.split("/"))).parent_keys
        )

    assert parents("agents/onboarding") == [
        "copies/agent_copy",
        "serve/clients",
        "serve/onboarding_docs",
    ]
    assert parents("copies/agent_copy") == ["serve/clients", "serve/onboarding_docs"]
    assert parents("unified/customer_xref") == parents("unified/customer")
    assert parents("serve/clients") == [
        "raw/billing__invoices",
        "raw/support__tickets",
        "unified/customer",
        "unified/customer_xref",
    ]
    assert parents("unified/customer") == [
        "raw/billing__accounts",
        "raw/crm__clients",
        "raw/support__tickets",
    ]
    blocking = {
        f"{k.asset_key.to_user_string()}:{k.name}"
        for k in graph.asset_check_keys
        if graph.get(k).blocking
    }
    assert "raw/crm__clients:unique__client_id" in blocking
    assert "raw/billing__invoices:between__amount" not in blocking  # severity: warn


def test_every_asset_has_its_own_label_and_its_declared_columns(defs: dg.Definitions) -> None:
    """The UI labels an asset by the last part of its key: no two alike. What hub.yaml
    declares of a column (description, PII class, type) is column metadata before any run."""
    graph = defs.resolve_asset_graph()
    labels = [k.path[-1] for k in graph.get_all_asset_keys()]
    assert len(labels) == len(set(labels))
    node = graph.get(dg.AssetKey(["raw", "crm__clients"]))
    columns = {c.name: c for c in node.metadata["dagster/column_schema"].columns}
    assert columns["email"].tags["pii"] == "email"
    assert columns["email"].description
    customer = graph.get(dg.AssetKey(["unified", "customer"])).metadata["dagster/column_schema"]
    assert {c.name for c in customer.columns} >= {"name", "email"}
    assert defs.resolve_job_def("all_assets").executor_def.name == "in_process"


def test_two_assets_with_one_label_is_a_config_error(tmp_path) -> None:  # noqa: ANN001
    from hub.config import ConfigError

    config = load_config(DEMO_CONFIG)
    product = config.serve["clients"]
    config.serve["customer"] = product  # serve/customer beside unified/customer
    with pytest.raises(ConfigError, match="both be labelled 'customer'"):
        build_definitions(config, str(DEMO_CONFIG))


def test_jobs_schedules_and_sensors_snapshot(defs: dg.Definitions) -> None:
    jobs = sorted(j.name for j in defs.resolve_all_job_defs() if not j.name.startswith("__"))
    assert jobs == [
        "all_assets",
        "deliver_drafts",
        "refresh_crm",
        "refresh_support",
        "signup_onboarding",
    ]
    schedules = {s.name: s.cron_schedule for s in defs.schedules}
    assert schedules == {
        "refresh_crm_schedule": "0 6 * * *",
        "refresh_support_schedule": "*/30 * * * *",
    }
    assert [s.name for s in defs.sensors] == [
        "approved_drafts_sensor",
        "new_signups_sensor",
        "freshness_checks_sensor",
    ]


def test_code_location_module_loads_from_hub_config(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("HUB_CONFIG", str(DEMO_CONFIG))
    module = importlib.reload(importlib.import_module("hub.definitions"))
    assert isinstance(module.defs, dg.Definitions)
    assert module.defs.resolve_job_def("all_assets") is not None


def test_a_table_not_loaded_since_its_schedule_is_overdue() -> None:
    """The freshness check of a scheduled source fails until the table is loaded, then
    passes (no run had loaded it: overdue)."""
    from assets.schedules import freshness_checks

    config = load_config(DEMO_CONFIG)
    crm = [c for c in freshness_checks(config) if "crm" in str(c.check_keys)]
    instance = dg.DagsterInstance.ephemeral()
    key = dg.AssetKey(["raw", "crm__clients"])

    def passed() -> bool:
        result = dg.materialize(
            crm,
            instance=instance,
            selection=dg.AssetSelection.checks_for_assets(key),
            raise_on_error=False,
        )
        evaluation = next(e for e in result.get_asset_check_evaluations() if e.asset_key == key)
        return evaluation.passed

    assert not passed()
    instance.report_runless_asset_event(dg.AssetMaterialization(key))
    assert passed()
