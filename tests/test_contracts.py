"""Data contracts: a demo product's ODCS v3 contract says its types, PII, rules, owner and
freshness; imported into a new project it becomes blocking checks there (idempotent, the
file's comments kept), which stop bad data; exported again from there, no rule is lost."""

from __future__ import annotations

import datetime as dt
import json
import time
from importlib.resources import files
from pathlib import Path

import jsonschema
import pytest
import yaml
from typer.testing import CliRunner

import hub
from hub.cli import app
from hub.config import load_config
from hub.contract_checks import checks_of, identity
from hub.contract_rules import ContractError
from hub.contracts import contract_for, dump
from hub.contracts_import import import_contract
from hub.cron import longest_gap
from hub.runner import materialize
from tests.conftest import DemoProject

ODCS = json.loads((files("open_data_contract_standard") / "schema.json").read_text())
PROMISES = """\
  serve.clients:
    - expect: expect_column_values_to_be_between
      kwargs: {column: open_tickets, min_value: 0, max_value: 50}
    - expect: expect_column_values_to_be_in_set
      kwargs: {column: open_invoices, value_set: [0, 1, 2, 3, 4, 5]}
    - expect: expect_column_values_to_match_regex
      kwargs: {column: crm_client_id, regex: '^C[0-9]+$'}
    - expect: expect_column_value_lengths_to_be_between
      kwargs: {column: name, min_value: 2}
      severity: warn
"""
"Checks the demo's `clients` gains here, so its contract has a range, a valid set, a regex."
CONSUMER = """\
# A consumer of the onboarding clients: its comments and layout must survive the import.
project: consumer

sources:
  shop:                            # the producer drops its file here
    kind: files
    path: exports
    tables:
      clients:
        pattern: "clients*.csv"
        columns:
          phone: {type: VARCHAR}   # digits after a +: text, not a number

serve:
  active:
    sql: SELECT customer_id, name, open_tickets FROM raw.shop__clients
"""
HEADER = "customer_id,name,email,phone,crm_client_id,open_tickets,open_invoices\n"
GOOD = "CUS-1,Acme Ltd,a@acme.test,+13035550101,C001,0,1\nCUS-2,Beta Co,,+13035550102,C002,3,2\n"
BAD = (
    ",Null Key Inc,c@c.test,+1303555,C003,1,1\n"  # a null in a required column
    "CUS-1,Acme Again,d@d.test,+1303555,C004,1,1\n"  # a duplicate key
    "CUS-5,Huge Backlog,e@e.test,+1303555,C005,500,1\n"  # out of the range 0..50
    "CUS-6,Odd Invoices,f@f.test,+1303555,C006,1,9\n"  # outside the valid set
    "CUS-7,No Pattern,g@g.test,+1303555,X007,1,1\n"  # not ^C[0-9]+$
)


def hub_cli(*args: str) -> str:
    done = CliRunner().invoke(app, list(args))
    assert done.exit_code == 0, done.output
    return done.output


def rules(contract: dict) -> set[tuple[tuple[str, str], str]]:
    """What a contract makes checks of: (expectation and kwargs, severity)."""
    return {(identity(c), c.severity) for c in checks_of(contract["schema"][0], "contract")}


@pytest.fixture
def promised(built_demo: DemoProject) -> DemoProject:
    """The built demo whose `clients` product (owned by team:onboarding) has a column
    description and more checks (the contract reads hub.yaml and the store; nothing needs
    rebuilding)."""
    text = built_demo.config_path.read_text()
    text = text.replace("  serve.clients:\n", PROMISES, 1)
    product_email = (
        "      email: {pii: email}\n      phone: {pii: phone}\n    sql: |\n      SELECT c."
    )
    described = "      email: {pii: email, description: Where we write to}\n"
    text = text.replace(product_email, described + product_email.partition("\n")[2])
    built_demo.config_path.write_text(text)
    return built_demo


def test_a_product_contract_says_types_pii_rules_owner_and_freshness(
    promised: DemoProject,
) -> None:
    contract = yaml.safe_load(hub_cli("contract", "export", "clients"))
    jsonschema.Draft201909Validator(ODCS).validate(contract)
    assert (contract["apiVersion"], contract["kind"], contract["status"]) == (
        "v3.1.0",
        "DataContract",
        "active",
    )
    (schema,) = contract["schema"]
    assert schema["physicalName"] == "serve.clients" and "onboarded" in schema["description"]
    props = {p["name"]: p for p in schema["properties"]}
    assert {n: p["physicalType"] for n, p in props.items()} == {
        "customer_id": "VARCHAR",
        "name": "VARCHAR",
        "email": "VARCHAR",
        "phone": "VARCHAR",
        "crm_client_id": "VARCHAR",
        "open_tickets": "BIGINT",
        "open_invoices": "BIGINT",
    }
    key = props["customer_id"]
    assert key["primaryKey"] and key["primaryKeyPosition"] == 1 and key["required"]
    email = props["email"]
    assert email["description"] == "Where we write to" and email["classification"] == "email"
    (masking,) = email["customProperties"]
    assert masking["value"] == {"agent": "mask", "analyst": "hash", "steward": "clear"}
    assert email["quality"] == [{"severity": "warning", "metric": "nullValues", "mustBe": 0}]
    assert props["phone"]["classification"] == "phone" and "classification" not in props["name"]
    assert props["open_tickets"]["logicalTypeOptions"] == {"minimum": 0, "maximum": 50}
    assert props["crm_client_id"]["logicalTypeOptions"] == {"pattern": "^C[0-9]+$"}
    assert props["open_invoices"]["quality"][0]["arguments"] == {"validValues": [0, 1, 2, 3, 4, 5]}
    (lengths,) = props["name"]["quality"]
    assert lengths["engine"] == "greatExpectations" and lengths["severity"] == "warning"
    assert lengths["implementation"]["expectation"] == "expect_column_value_lengths_to_be_between"
    assert schema["quality"] == [
        {
            "name": "row_count",
            "severity": "error",
            "metric": "rowCount",
            "mustBeGreaterOrEqualTo": 1,
        }
    ]
    assert contract["team"]["members"] == [{"username": "team:onboarding", "role": "owner"}]
    sla = {
        (s["property"], s.get("schedule")): (s["value"], s["unit"])
        for s in contract["slaProperties"]
    }
    assert sla == {
        ("frequency", "0 6 * * *"): (1, "d"),  # crm
        ("frequency", "*/30 * * * *"): (30, "min"),  # support
        ("latency", None): (1, "d"),
    }


def test_a_demo_contract_blocks_bad_data_in_a_new_project(
    promised: DemoProject, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    exported = tmp_path / "clients.odcs.yaml"
    hub_cli("contract", "export", "clients", "--out", str(exported))
    consumer = tmp_path / "consumer"
    (consumer / "exports").mkdir(parents=True)
    (consumer / "hub.yaml").write_text(CONSUMER)
    (consumer / "exports" / "clients.csv").write_text(HEADER + GOOD)
    monkeypatch.setenv("DAGSTER_HOME", str(consumer / ".dagster"))
    config = str(consumer / "hub.yaml")

    said = hub_cli(
        "contract", "import", str(exported), "--table", "raw.shop__clients", "-c", config
    )
    assert "raw.shop__clients: 14 check(s) added" in said
    written = (consumer / "hub.yaml").read_text()
    assert written.startswith(CONSUMER)  # every comment and line of the file kept, in place
    again = hub_cli(
        "contract", "import", str(exported), "--table", "raw.shop__clients", "-c", config
    )
    assert "0 check(s) added" in again and (consumer / "hub.yaml").read_text() == written

    assert materialize(consumer / "hub.yaml").success
    (consumer / "exports" / "clients.csv").write_text(HEADER + GOOD + BAD)
    report = materialize(consumer / "hub.yaml")
    assert not report.success and not report.unexpected_failures()

    def steward(query: str) -> list:
        return hub.sql(query, audience="steward", config=config).values.tolist()

    failed = steward(
        "SELECT DISTINCT check_name, blocking FROM meta.check_results WHERE NOT passed ORDER BY 1"
    )
    assert failed == [
        ["between__open_tickets", True],
        ["in_set__open_invoices", True],
        ["match_regex__crm_client_id", True],
        ["not_null__customer_id", True],
        ["not_null__email", False],  # a warning in the contract, in both runs: it never blocked
        ["unique__customer_id", True],
    ]
    # the bad batch is in raw, and nothing was built from it: the product kept the good rows
    assert steward(
        "SELECT (SELECT count(*) FROM raw.shop__clients), (SELECT count(*) FROM serve.active)"
    ) == [[7, 2]]

    again = yaml.safe_load(hub_cli("contract", "export", "raw.shop__clients", "-c", config))
    assert rules(again) == rules(yaml.safe_load(exported.read_text()))  # no rule lost


ODCS_HEAD = "apiVersion: v3.1.0\nkind: DataContract\nid: x\nversion: 1.0.0\nschema:\n"


@pytest.mark.parametrize(
    ("schema", "named"),
    [
        ("- {name: t, physicalName: raw.shop__nope}\n", "'raw.shop__nope'"),
        (
            "- name: t\n  physicalName: raw.shop__clients\n  quality:\n"
            "  - {type: sql, query: SELECT 1, mustBe: 1}\n",
            "schema[0] (t).quality[0]: a `sql` rule",
        ),
        (
            "- name: t\n  physicalName: raw.shop__clients\n  properties:\n"
            "  - {name: id, quality: [{metric: nullValues, mustBeLessThan: 5}]}\n",
            "properties[0] (id).quality[0]: the library rule 'nullValues'",
        ),
        (
            "- name: t\n  physicalName: raw.shop__clients\n  properties:\n"
            "  - {name: id, logicalType: string, logicalTypeOptions: {format: email}}\n",
            "logicalTypeOptions format",
        ),
    ],
)
def test_a_contract_that_cannot_be_imported_whole_writes_nothing(
    tmp_path: Path, schema: str, named: str
) -> None:
    (tmp_path / "hub.yaml").write_text(CONSUMER)
    contract = tmp_path / "contract.yaml"
    contract.write_text(ODCS_HEAD + schema)
    with pytest.raises(Exception) as refused:
        import_contract(tmp_path / "hub.yaml", contract)
    assert named in str(refused.value) and "Fix:" in str(refused.value)
    assert (tmp_path / "hub.yaml").read_text() == CONSUMER


def test_other_producers_rules_become_checks() -> None:
    contract = yaml.safe_load(
        """
        properties:
          - {name: id, logicalType: integer, primaryKey: true, primaryKeyPosition: 1}
          - name: unit
            physicalType: varchar(8)
            enum: [{value: kg}, {value: lb}]
            quality:
              - {metric: missingValues, arguments: {missingValues: [null, '', n/a]}, mustBe: 0}
              - {metric: invalidValues, arguments: {pattern: '^[a-z]+$'}, mustBeLessOrEqualTo: 5,
                 unit: percent, severity: warning}
              - type: custom
                engine: great-expectations
                implementation: "type: expect_column_value_lengths_to_equal\\nkwargs: {value: 2}"
        quality:
          - {metric: rowCount, mustBeBetween: [1, 100]}
        """
    )
    got = [
        (c.expect.removeprefix("expect_"), c.kwargs, c.severity) for c in checks_of(contract, "x")
    ]
    (kind, typed, _), rest = got[0], got[1:]
    assert kind == "column_values_to_be_in_type_list" and typed["column"] == "id"
    assert "BIGINT" in typed["type_list"] and "DOUBLE" not in typed["type_list"]
    assert rest == [
        ("column_values_to_be_of_type", {"column": "unit", "type_": "VARCHAR"}, "error"),
        ("column_values_to_be_in_set", {"column": "unit", "value_set": ["kg", "lb"]}, "error"),
        ("column_values_to_not_be_null", {"column": "unit"}, "error"),
        ("column_values_to_not_be_in_set", {"column": "unit", "value_set": ["", "n/a"]}, "error"),
        (
            "column_values_to_match_regex",
            {"column": "unit", "regex": "^[a-z]+$", "mostly": 0.95},
            "warn",
        ),
        ("column_value_lengths_to_equal", {"value": 2, "column": "unit"}, "error"),
        ("column_values_to_be_unique", {"column": "id"}, "error"),
        ("column_values_to_not_be_null", {"column": "id"}, "error"),
        ("table_row_count_to_be_between", {"min_value": 1, "max_value": 100}, "error"),
    ]


@pytest.mark.parametrize(
    "cron", ["0 6 * * *", "*/30 * * * *", "5,35 */4 * * MON-FRI", "0 12 1 * 1", "@weekly"]
)
def test_the_freshness_of_a_contract_is_the_gap_between_dagsters_ticks(cron: str) -> None:
    from dagster._utils.schedules import cron_string_iterator

    start = time.time()
    ticks = cron_string_iterator(start, cron, "UTC")
    times = [next(ticks) for _ in range(9)]
    dagster_gap = max(b - a for a, b in zip(times, times[1:], strict=False))
    assert longest_gap(cron, dt.datetime.fromtimestamp(start, dt.UTC)) == dagster_gap


# --- a contract from outside is vetted before it reaches hub.yaml -----------------------

CLIENTS_HEAD = ODCS_HEAD + "- name: t\n  physicalName: raw.shop__clients\n"


def refused(tmp_path: Path, body: str, *said: str, head: str = CLIENTS_HEAD) -> str:
    """Import `body` into the consumer project: refused, naming `said`, nothing written."""
    (tmp_path / "hub.yaml").write_text(CONSUMER)
    contract = tmp_path / "contract.yaml"
    contract.write_text(head + body)
    with pytest.raises(ContractError) as error:
        import_contract(tmp_path / "hub.yaml", contract)
    message = str(error.value)
    assert all(s in message for s in said) and "Fix:" in message, message
    assert (tmp_path / "hub.yaml").read_text() == CONSUMER
    return message


def custom(expectation: str, kwargs: str) -> str:
    return (
        "  properties:\n  - name: phone\n    quality:\n    - type: custom\n"
        "      engine: greatExpectations\n"
        f"      implementation: {{expectation: {expectation}, kwargs: {kwargs}}}\n"
    )


def test_an_environment_reference_in_a_contract_is_refused(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("AWS_SECRET_ACCESS_KEY", "very-secret-key")
    rule = custom(
        "expect_column_values_to_not_be_in_set", "{value_set: ['${AWS_SECRET_ACCESS_KEY}']}"
    )
    said = refused(tmp_path, rule, "quality[0]", "not_in_set__phone", "`${`")
    assert "very-secret-key" not in said
    # the comment naming the contract in hub.yaml is one line, never a `${`
    contract = tmp_path / "contract.yaml"
    contract.write_text(
        CLIENTS_HEAD.replace("id: x", 'id: x\nname: "a\\nb: ${AWS_SECRET_ACCESS_KEY}"')
        + "  properties:\n  - {name: phone, required: true}\n"
    )
    import_contract(tmp_path / "hub.yaml", contract)
    written = (tmp_path / "hub.yaml").read_text()
    assert "${" not in written and "# contract a b: $ {AWS_SECRET_ACCESS_KEY}" in written
    assert load_config(tmp_path / "hub.yaml").checks["raw.shop__clients"]


def test_an_exported_contract_is_scrubbed_of_secrets() -> None:
    from hub import secrets

    secrets.register("registered-secret-value")
    text = dump({"description": {"purpose": "rows like registered-secret-value"}})
    assert "registered-secret-value" not in text and secrets.MASK in text


def test_an_unknown_expectation_is_refused(tmp_path: Path) -> None:
    refused(tmp_path, custom("expect_pwn_now", "{}"), "quality[0]", "expect_pwn_now")


@pytest.mark.parametrize(
    ("body", "said"),
    [
        (custom("expect_column_values_to_match_regex", r"{regex: '(?!zz)(\w+\s?)*$'}"), "RE2"),
        (custom("expect_column_values_to_not_match_regex", r"{regex: '(a)\1'}"), "RE2"),
        (
            "  properties:\n  - name: phone\n    logicalType: string\n"
            "    logicalTypeOptions: {pattern: '^(?=\\+)'}\n",
            "RE2",
        ),
        (
            custom("expect_column_values_to_match_regex_list", "{regex_list: ['^a']}"),
            "Python's engine",
        ),
        (
            custom(
                "expect_column_values_to_match_regex",
                "{regex: '^a', row_condition: 'phone.str.len() > 1', condition_parser: pandas}",
            ),
            "row_condition",
        ),
    ],
)
def test_a_regex_python_may_never_finish_on_is_refused(
    tmp_path: Path, body: str, said: str
) -> None:
    refused(tmp_path, body, "properties[0] (phone)", said)


def test_yes_no_on_off_stay_text_from_contract_to_hub_yaml(tmp_path: Path) -> None:
    (tmp_path / "hub.yaml").write_text(CONSUMER)
    contract = tmp_path / "contract.yaml"
    values = "[yes, no, on, off, NO, SE, DK, y, n]"
    contract.write_text(
        CLIENTS_HEAD
        + "  properties:\n  - name: phone\n    quality:\n"
        + f"    - {{metric: invalidValues, arguments: {{validValues: {values}}}, mustBe: 0}}\n"
    )
    (done,) = import_contract(tmp_path / "hub.yaml", contract)
    texts = ["yes", "no", "on", "off", "NO", "SE", "DK", "y", "n"]
    assert done.new[0].kwargs["value_set"] == texts
    (check,) = load_config(tmp_path / "hub.yaml").checks["raw.shop__clients"]
    assert check.kwargs["value_set"] == texts


@pytest.mark.parametrize(
    "prop",
    [
        "logicalType: string\n    logicalTypeOptions: {minimum: 0, maximum: 9}",
        "physicalType: VARCHAR(20)\n    quality:\n    - type: custom\n"
        "      engine: greatExpectations\n      implementation: {expectation: "
        "expect_column_values_to_be_between, kwargs: {min_value: 1}}",
    ],
)
def test_a_numeric_range_on_a_text_property_is_refused(tmp_path: Path, prop: str) -> None:
    refused(tmp_path, f"  properties:\n  - name: phone\n    {prop}\n", "phone", "a number")


def test_a_numeric_range_on_a_stored_text_column_is_refused(tmp_path: Path) -> None:
    import duckdb

    (tmp_path / "data").mkdir()
    with duckdb.connect(str(tmp_path / "data" / "hub.duckdb")) as con:
        con.execute("CREATE SCHEMA raw; CREATE TABLE raw.shop__clients (phone VARCHAR)")
    body = "  properties:\n  - {name: phone, logicalTypeOptions: {minimum: 0}}\n"
    refused(tmp_path, body, "phone", "VARCHAR column of raw.shop__clients in the store")


@pytest.mark.parametrize(
    ("body", "said"),
    [
        (
            "  properties:\n  - name: phone\n    quality:\n"
            "    - {metric: invalidValues, arguments: {validValues: &v [a, b]}, mustBe: 0}\n"
            "  - name: name\n    quality:\n"
            "    - {metric: invalidValues, arguments: {validValues: *v}, mustBe: 0}\n",
            "anchor or alias",
        ),
        (
            "  properties:\n  - name: phone\n    quality:\n"
            "    - {metric: invalidValues, arguments: {validValues: [[a, b], c]}, mustBe: 0}\n",
            "list of single values",
        ),
        ("  description: '" + "x" * 1_100_000 + "'\n", "more than a contract may be"),
    ],
)
def test_aliases_nested_values_and_huge_files_are_refused(
    tmp_path: Path, body: str, said: str
) -> None:
    refused(tmp_path, body, said)


PII_PROJECT = CONSUMER.replace(
    "          phone: {type: VARCHAR}   # digits after a +: text, not a number\n",
    "          phone: {type: VARCHAR}   # digits after a +: text, not a number\n"
    "          email: {pii: email}\n",
) + (
    "\nchecks:\n  raw.shop__clients:\n"
    "    - expect: expect_column_values_to_not_be_in_set\n"
    "      kwargs: {column: email, value_set: [optout.person@example.org]}\n"
    "    - expect: expect_column_values_to_match_regex\n"
    "      kwargs: {column: email, regex: '^(?!optout\\.person@example\\.org)'}\n"
    "      severity: warn\n"
)


def test_values_of_pii_columns_are_masked_in_a_lower_audiences_contract(
    tmp_path: Path,
) -> None:
    (tmp_path / "hub.yaml").write_text(PII_PROJECT)
    config = load_config(tmp_path / "hub.yaml")

    def email_rules(audience: str | None) -> list[dict]:
        contract = contract_for(config, "raw.shop__clients", audience=audience)
        text = dump(contract)
        (email,) = [p for p in contract["schema"][0]["properties"] if p["name"] == "email"]
        return text, email.get("quality", [])

    text, clear = email_rules("steward")
    assert "optout.person@example.org" in text
    assert clear[0]["implementation"]["kwargs"]["value_set"] == ["optout.person@example.org"]
    for audience in ("agent", "analyst", None):  # None: access.default_audience (analyst)
        text, rules = email_rules(audience)
        assert "optout.person" not in text, audience
        (shown,) = rules[0]["implementation"]["kwargs"]["value_set"]
        assert shown and "optout.person" not in shown
        assert rules[1]["type"] == "text" and "withheld" in rules[1]["description"]
    assert "analyst" in rules[0]["description"]
