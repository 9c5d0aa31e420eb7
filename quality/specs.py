"""Which checks every table has: the declared ones plus those Groundwork adds by itself.

Added by Groundwork: the row count is not zero and the primary key is unique and not null
(blocking), foreign keys declared with `references` resolve (blocking unless `severity:
warn`), rejected rows stay under `max_rejects` (default 0) or `max_reject_share` (blocking),
a new batch keeps all but `max_row_drop` of the previous one's rows (blocking, when
declared), and the schema kept its contract (`schema`: blocking under `freeze`, a warning
otherwise).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

import duckdb

from connectors.base import column_list
from hub.config import HubConfig, as_check_name
from hub.store import latest_batch

SAMPLE_SIZE = 5
"Unexpected values (and their rows' keys) kept with a failed check."


@dataclass
class Verdict:
    check: str
    passed: bool | None
    "None when the check could not be evaluated."
    metadata: dict[str, Any] = field(default_factory=dict)
    error: str | None = None


@dataclass(frozen=True)
class CheckSpec:
    table: str
    "The checked table, `<layer>.<name>`."
    name: str
    blocking: bool
    expectation: str | None = None
    "GX expectation type; None for the SQL checks (`references`, `rejects`)."
    kwargs: dict[str, Any] = field(default_factory=dict)
    sql: str | None = None
    "`references`, `rejects` or `schema`: the checks GX cannot express on one table."

    @property
    def description(self) -> str:
        what = self.expectation or self.sql or ""
        args = ", ".join(f"{k}={v!r}" for k, v in self.kwargs.items())
        return f"{what}({args}){' — blocking' if self.blocking else ''}"


def primary_keys(config: HubConfig) -> dict[str, list[str]]:
    """Every checked table and the columns that identify its rows (maybe none)."""
    keys = {f"raw.{s}__{t}": table.primary_key for s, t, table in config.raw_tables()}
    keys |= {f"unified.{name}": [f"{name}_id"] for name in config.entities}
    keys |= {f"serve.{name}": product.primary_key for name, product in config.serve.items()}
    return keys


def table_checks(config: HubConfig) -> dict[str, list[CheckSpec]]:
    """Every checked table, with its checks, in a stable order. A declared check that is
    one Groundwork adds anyway (`unique` on the primary key) is kept once."""
    checks = {ref: _structural(ref, key) for ref, key in primary_keys(config).items()}
    for source, table, table_config in config.raw_tables():
        ref = f"raw.{source}__{table}"
        specs = checks[ref]
        for key, reference in table_config.references.items():
            columns = column_list(key)
            kwargs = {
                "columns": columns,
                "target": reference.target_table("raw"),
                "target_columns": reference.target_columns,
            }
            signups = [
                name
                for name, agent in config.agents.items()
                if agent.signups and f"raw.{agent.signups.table}" == kwargs["target"]
            ]
            if signups and len(columns) == 1:  # a row of a blocked signup is held back
                kwargs["held_back_by"] = signups
            name = reference.name or "references__" + as_check_name("__".join(columns))
            blocking = reference.severity == "error"
            specs.append(CheckSpec(ref, name, blocking, kwargs=kwargs, sql="references"))
        limits = {"max_rejects": table_config.max_rejects or 0}
        if table_config.max_reject_share is not None:
            limits = {"max_reject_share": table_config.max_reject_share}
        specs.append(CheckSpec(ref, "rejects", True, kwargs=limits, sql="rejects"))
        if table_config.max_row_drop is not None:
            drop = {"max_row_drop": table_config.max_row_drop}
            specs.append(CheckSpec(ref, "row_drop", True, kwargs=drop, sql="row_drop"))
        contract = config.sources[source].contract_of(table_config)
        specs.append(
            CheckSpec(
                ref, "schema", contract == "freeze", kwargs={"contract": contract}, sql="schema"
            )
        )
    for ref, declared in config.checks.items():
        if ref not in checks:
            raise ValueError(f"checks.{ref}: no such table. Use one of {sorted(checks)}.")
        added = {(s.expectation, repr(sorted(s.kwargs.items()))) for s in checks[ref] if s.blocking}
        checks[ref] += [
            CheckSpec(ref, c.check_name, c.severity == "error", c.expect, dict(c.kwargs))
            for c in declared
            if (c.expect, repr(sorted(c.kwargs.items()))) not in added or c.name
        ]
    for ref, specs in checks.items():
        names = [s.name for s in specs]
        duplicates = sorted({n for n in names if names.count(n) > 1})
        if duplicates:
            raise ValueError(
                f"checks.{ref}: two checks are named {', '.join(duplicates)} (a check's own "
                "`name:`, a name Groundwork gives its own checks, or one made from the "
                "expectation and column). Fix: give each a distinct `name:`."
            )
    return checks


def data_versions(con: duckdb.DuckDBPyConnection, specs: list[CheckSpec]) -> dict[str, str | None]:
    """The data each verdict is about, by check name: its table's latest batch, and for
    `references` also the referenced table's, so reloading either one makes an older verdict
    stale. Each table's latest batch is read once."""
    batches: dict[str, str | None] = {}

    def batch(table: str) -> str | None:
        if table not in batches:
            batches[table] = latest_batch(con, table)
        return batches[table]

    versions = {}
    for spec in specs:
        version = batch(spec.table)
        if version is not None and spec.sql == "references":
            version = f"{version}+{batch(spec.kwargs['target'])}"
        versions[spec.name] = version
    return versions


def _structural(ref: str, primary_key: list[str]) -> list[CheckSpec]:
    specs = [
        CheckSpec(ref, "row_count", True, "expect_table_row_count_to_be_between", {"min_value": 1})
    ]
    if len(primary_key) == 1:
        column = primary_key[0]
        specs += [
            CheckSpec(
                ref,
                f"unique__{as_check_name(column)}",
                True,
                "expect_column_values_to_be_unique",
                {"column": column},
            ),
            CheckSpec(
                ref,
                f"not_null__{as_check_name(column)}",
                True,
                "expect_column_values_to_not_be_null",
                {"column": column},
            ),
        ]
    elif primary_key:
        specs.append(
            CheckSpec(
                ref,
                "primary_key",
                True,
                "expect_compound_columns_to_be_unique",
                {"column_list": list(primary_key)},
            )
        )
    return specs
