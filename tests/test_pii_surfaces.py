"""No clear PII where Dagster keeps its history, nor in the audit trail: every clear e-mail
and phone of the sources is searched for in every file Dagster wrote, clean and dirty runs
(failing checks with samples of bad e-mails) included."""

from __future__ import annotations

import re

from hub.runner import materialize
from tests.conftest import DemoProject, steward

CLEAR = {
    "raw.crm__clients": ("email", "phone"),
    "raw.crm__contacts": ("email", "phone"),
    "raw.billing__accounts": ("billing_email", "phone"),
    "raw.support__tickets": ("requester_email",),
    "unified.customer": ("email", "phone"),
}


def clear_values() -> set[str]:
    values: set[str] = set()
    for table, columns in CLEAR.items():
        for column in columns:
            found = steward(
                f"SELECT DISTINCT {column} AS v FROM {table} WHERE {column} IS NOT NULL"
            )
            values |= {str(v).strip().lower() for v in found.v if len(str(v).strip()) > 6}
    return values


def test_dagster_history_and_audit_trail_hold_no_clear_pii(built_demo: DemoProject) -> None:
    built_demo.generate(dirty=True)
    # without signups, the malformed CRM e-mails reach the table and fail its e-mail check
    # (with signups they are blocked at load: tests/test_signups.py scans those surfaces)
    text = built_demo.config_path.read_text()
    start = text.index("    signups:")
    end = text.index("    max_steps:")
    built_demo.config_path.write_text(text[:start] + text[end:])
    report = materialize(built_demo.config_path)
    assert not report.success and not report.unexpected_failures()  # checks found bad data
    samples = steward(
        "SELECT details FROM meta.check_results WHERE check_name = 'match_regex__email' "
        "AND NOT passed"
    ).details[0]
    # masked as the analyst sees e-mails (a salted hash), not dropped
    assert re.search(r'"unexpected_sample": \["[0-9a-f]{16}", "[0-9a-f]{16}"\]', samples)

    secrets = clear_values()
    assert len(secrets) > 40
    dagster = "".join(
        p.read_bytes().decode("utf-8", "replace").lower()
        for p in (built_demo.root / ".dagster").rglob("*")
        if p.is_file()
    )
    trail = " ".join(steward("SELECT details FROM meta.audit_log").details).lower()
    assert re.search(r"\*\*\*\d{4}", dagster)  # previews are there, phones masked
    leaked = sorted(v for v in secrets if v in dagster or v in trail)
    assert leaked == []


def test_errors_that_quote_a_value_reach_no_lower_surface_with_it(built_demo: DemoProject) -> None:
    """A cast that chokes on an e-mail and a check that raises on one: the values they quote
    reach neither the OpenLineage events (which leave the store) nor the check results
    analysts read, nor Dagster's record of the failure."""
    config = built_demo.config_path
    text = config.read_text().replace(
        "  serve.clients:\n",
        "  serve.clients:\n"
        "    - expect: expect_column_quantile_values_to_be_between\n"
        "      kwargs: {column: email, quantile_ranges: {quantiles: [0.5], "
        "value_ranges: [[0, 1]]}}\n"
        "      severity: warn\n",
        1,
    )
    text = text.replace(
        "\nserve:\n",
        "\nserve:\n  contact_codes:\n    audience: analyst\n    primary_key: [customer_id]\n"
        "    sql: SELECT customer_id, CAST(email AS INTEGER) AS code FROM unified.customer\n",
        1,
    )
    config.write_text(text + "\nlineage:\n  openlineage:\n    file: lineage.ndjson\n")
    clear = clear_values()

    report = materialize(config, ["serve/contact_codes", "serve/clients"])

    assert not report.success  # the cast failed, the quantile check raised
    events = (built_demo.root / "lineage.ndjson").read_text().lower()
    assert '"eventtype": "fail"' in events and "conversionexception" in events
    errors = steward(
        "SELECT details FROM meta.check_results WHERE check_name LIKE 'quantile%' "
        "OR details LIKE '%error%'"
    ).details
    assert any("could not convert string to float" in d for d in errors)
    shown = [events, *map(str.lower, errors), *(f.lower() for f in report.failures)]
    leaked = [(v, s[:300]) for v in clear for s in shown if v in s]
    assert not leaked
