"""ODCS v3 rules in as checks: what a contract promises about a table, as hub.yaml `checks:`.

Reads back everything `hub.contract_rules` writes, and what other producers write too: a
DuckDB `physicalType` (of type) or else a `logicalType` (one of its DuckDB types),
`required`, `unique`, the primary key (unique and not null), `logicalTypeOptions` ranges,
lengths and `pattern`, `enum` (in set), the library metrics `nullValues`,
`duplicateValues` (per column, or over `arguments.properties`), `invalidValues`
(`validValues`, `pattern`), `missingValues` and `rowCount`, a share of rows (`unit:
percent`, `mustBeLessOrEqualTo`) as `mostly`, and custom `greatExpectations` rules. A rule
Groundwork cannot run exactly (`text`, `sql`, another engine, a count of failing rows,
nested properties, a string's `format`) is an error naming it, never dropped. Severity
`error` (or none) blocks; `warning`, `warn` and `info` report.

A contract comes from outside, so each check is vetted before it reaches hub.yaml: no
`${` (hub.yaml would fill it from the environment), only expectations Groundwork compiles or
GX 1.x has, scalar values, no numeric range on a text column, no `row_condition` (GX
evaluates it), and regexes that DuckDB's RE2 runs (linear time), never Python's engine.
YAML is read as YAML 1.2 (`no`, `on` stay text), without anchors or aliases.
"""

from __future__ import annotations

import re
from functools import lru_cache
from typing import Any

from pydantic import ValidationError

from hub.config import CheckConfig, as_check_name
from hub.contract_rules import GX_ENGINE, LOGICAL_TYPES, STRICT, ContractError, base_type

_GX_ENGINES = {"greatexpectations", "great-expectations", "great_expectations", "gx"}
_SEVERITIES = {"error": "error", "warning": "warn", "warn": "warn", "info": "warn"}
"ODCS `severity` -> hub.yaml's."
_OPERATORS = ("mustBe", "mustNotBe", "mustBeGreaterThan", "mustBeGreaterOrEqualTo")
_OPERATORS += ("mustBeLessThan", "mustBeLessOrEqualTo", "mustBeBetween", "mustNotBeBetween")
_DESCRIPTIVE_OPTIONS = {"format", "timezone", "defaultTimezone"}
"logicalTypeOptions that say how values are written, not which are valid (a typed column "
"in the store has no text layout): read and left, except a string's `format`."
MAX_BYTES = 1_000_000
"The largest contract file read."
_TEXT_TYPES = {"VARCHAR", "TEXT", "STRING", "CHAR", "BPCHAR", "NVARCHAR"}
NUMERIC_RANGES = {
    "expect_column_values_to_be_between",
    *(f"expect_column_{s}_to_be_between" for s in ("min", "max", "mean", "median", "sum")),
    "expect_column_stdev_to_be_between",
}
"Expectations whose bounds compare the column's values (or an aggregate of them)."
_LISTS = ("value_set", "type_list", "column_list", "column_set")
_SCALARS = ("value", "min_value", "max_value", "regex", "like_pattern", "type_")
_EVALUATED = ("row_condition", "condition_parser", "windows")
"Arguments GX evaluates itself (a pandas query): never taken from a contract."
_REGEX_LISTS = {
    "expect_column_values_to_match_regex_list",
    "expect_column_values_to_not_match_regex_list",
}
"Run by GX with Python's regex engine only: refused, a pattern joined with `|` says it."


def load_yaml(text: str, where: str) -> Any:
    """YAML text of a contract as plain data, read as YAML 1.2 (`no`, `on`, `NO` stay text),
    refusing anchors and aliases (`&a`, `*a`: an alias bomb grows without bound)."""
    from ruamel.yaml import YAML
    from ruamel.yaml.error import YAMLError
    from ruamel.yaml.events import AliasEvent, NodeEvent

    parser = YAML(typ="safe", pure=True)
    try:
        for event in parser.parse(text):
            if isinstance(event, AliasEvent) or (isinstance(event, NodeEvent) and event.anchor):
                raise ContractError(
                    f"{where}: uses a YAML anchor or alias (`&{event.anchor}` / "
                    f"`*{event.anchor}`), which a contract may not. Fix: write each value out. "
                    "Nothing was written."
                )
        return parser.load(text)
    except (YAMLError, ValueError, RecursionError) as exc:
        said = str(exc).splitlines()[0] if str(exc) else type(exc).__name__
        raise ContractError(f"{where}: not valid YAML: {said}. Fix the syntax there.") from None


@lru_cache(maxsize=1)
def known_expectations() -> frozenset[str]:
    """The expectations a check may name: those Groundwork compiles to SQL and those GX 1.x
    ships (its `expectations/core` modules, found without importing GX)."""
    import importlib.util
    from pathlib import Path

    from quality.compiled import COMPILERS

    found = set(COMPILERS)
    spec = importlib.util.find_spec("great_expectations")
    if spec and spec.origin:
        core = Path(spec.origin).parent / "expectations" / "core"
        found |= {p.stem for p in core.glob("expect_*.py")}
    return frozenset(found)


def regex_problem(regex: object) -> str | None:
    """Why a regex cannot be imported: it must run in DuckDB's RE2, meaning what Python
    means (`quality.re2`), so that no pattern ever reaches Python's backtracking engine."""
    import duckdb

    from quality.re2 import NotSameInRE2, as_re2

    if not isinstance(regex, str):
        return f"the pattern {regex!r} is not text"
    try:
        re.compile(regex)
        with duckdb.connect(":memory:") as con:
            con.execute("SELECT regexp_matches('', ?)", [as_re2(regex)])
    except re.error as exc:
        return f"the pattern {regex!r} is not a valid regex ({exc})"
    except (NotSameInRE2, duckdb.Error):
        return (
            f"the pattern {regex!r} cannot be run by RE2 (look-arounds, backreferences, "
            "word boundaries and multi-line mode are not), and Python's engine may never "
            "finish on it"
        )
    return None


def _strings(value: Any) -> list[str]:
    if isinstance(value, dict):
        return [s for k, v in value.items() for s in (*_strings(k), *_strings(v))]
    if isinstance(value, list | tuple):
        return [s for v in value for s in _strings(v)]
    return [value] if isinstance(value, str) else []


def _scalar(value: Any) -> bool:
    import datetime as dt

    return value is None or isinstance(value, str | int | float | bool | dt.date)


def vet(check: CheckConfig, at: str) -> CheckConfig:
    """The check, once it is safe to write into hub.yaml; else an error naming the rule."""
    rule = f"{at}: the rule {check.check_name} ({check.expect})"
    if any("${" in s for s in _strings(check.kwargs) + _strings(check.name)):
        raise ContractError(
            f"{rule} holds `${{`, which hub.yaml fills from the environment at every load "
            "(a secret would be read into the check). Fix: remove `${...}` from the "
            "contract's values. Nothing was written."
        )
    if check.expect not in known_expectations():
        raise ContractError(
            f"{rule}: no such expectation in Groundwork or Great Expectations 1.x. Fix: "
            "name one of GX's expectations (expect_column_values_to_..., ...), or remove "
            "the rule. Nothing was written."
        )
    evaluated = [a for a in _EVALUATED if a in check.kwargs]
    if evaluated:
        raise ContractError(
            f"{rule}: {', '.join(evaluated)} is evaluated by GX as code, and is not taken "
            "from a contract. Fix: remove it (declare such a check in hub.yaml yourself). "
            "Nothing was written."
        )
    for key in _LISTS:
        value = check.kwargs.get(key)
        if value is not None and (
            not isinstance(value, list) or not all(_scalar(v) for v in value)
        ):
            raise ContractError(
                f"{rule}: `{key}` must be a list of single values (text, numbers, dates), "
                f"not {str(value)[:80]}. Fix: flatten it in the contract. Nothing was written."
            )
    for key in _SCALARS:
        if not _scalar(check.kwargs.get(key)):
            raise ContractError(
                f"{rule}: `{key}` must be a single value, not {str(check.kwargs[key])[:80]}. "
                "Fix: correct the contract. Nothing was written."
            )
    if check.expect in _REGEX_LISTS:
        raise ContractError(
            f"{rule}: GX runs a list of regexes with Python's engine, which may never finish. "
            "Fix: state it as expect_column_values_to_match_regex (or _not_match_regex) with "
            "the patterns joined by `|`. Nothing was written."
        )
    if "regex" in check.kwargs:
        problem = regex_problem(check.kwargs["regex"])
        if problem:
            raise ContractError(
                f"{rule}: {problem}. Fix: write a pattern RE2 runs (no `(?=`, `(?!`, `(?<`, "
                "`\\1`). Nothing was written."
            )
    return check


def numeric_range(check: CheckConfig) -> bool:
    """Whether the check compares its column's values with a number."""
    bounds = [check.kwargs.get(b) for b in ("min_value", "max_value")]
    return check.expect in NUMERIC_RANGES and any(
        isinstance(b, int | float) and not isinstance(b, bool) for b in bounds
    )


def is_text(kind: str | None) -> bool:
    """Whether a DuckDB type (`VARCHAR`, `VARCHAR(8)`) is text."""
    return bool(kind) and base_type(str(kind)) in _TEXT_TYPES


def refuse_numeric_range_on_text(check: CheckConfig, column: str, said: str, at: str) -> None:
    raise ContractError(
        f"{at}: the rule {check.check_name} ({check.expect}) compares {column}, {said}, with "
        "a number: it could never pass. Fix: give the property a numeric type (logicalType "
        "integer/number), or drop the range. Nothing was written."
    )


def checks_of(schema: dict, where: str) -> list[CheckConfig]:
    """The checks an ODCS schema object (as a plain dict) promises, each once; `where`
    names it in errors (`contract.yaml: schema[0] (clients)`)."""
    found: list[CheckConfig] = []
    located: list[tuple[CheckConfig, str]] = []
    key: list[tuple[int, int, str]] = []
    text: dict[str, str] = {}
    for index, prop in enumerate(schema.get("properties") or []):
        at = f"{where}.properties[{index}] ({prop.get('name')})"
        column = prop.get("physicalName") or prop.get("name")
        if not column:
            raise ContractError(f"{at}: a property without a `name`. Fix: name its column.")
        for nested in ("items", "properties", "map", "relationships"):
            if prop.get(nested):
                raise ContractError(
                    f"{at}: `{nested}` cannot be checked by Groundwork (it checks flat columns). "
                    "Fix: remove it from the contract, or state it as a custom "
                    f"{GX_ENGINE} rule."
                )
        if prop.get("logicalType") == "string" or is_text(prop.get("physicalType")):
            text[column] = "declared " + (
                f"physicalType {prop['physicalType']}"
                if prop.get("physicalType")
                else "logicalType string"
            )
        found += _type_check(prop, column, at)
        found += [_check("expect_column_values_to_not_be_null", column)] * bool(
            prop.get("required")
        )
        found += [_check("expect_column_values_to_be_unique", column)] * bool(prop.get("unique"))
        if prop.get("primaryKey"):
            key.append((prop.get("primaryKeyPosition") or 0, index, column))
        found += _options(prop, column, at)
        if prop.get("enum"):
            values = [i.get("value") if isinstance(i, dict) else i for i in prop["enum"]]
            found.append(_check("expect_column_values_to_be_in_set", column, value_set=values))
        located += [(c, at) for c in found[len(located) :]]
        for number, rule in enumerate(prop.get("quality") or []):
            found += _rule(rule, column, f"{at}.quality[{number}]")
            located += [(c, f"{at}.quality[{number}]") for c in found[len(located) :]]
    columns = [column for *_, column in sorted(key)]
    if len(columns) == 1:
        found += [_check("expect_column_values_to_be_unique", columns[0])]
    elif columns:
        found += [_check("expect_compound_columns_to_be_unique", None, column_list=columns)]
    found += [_check("expect_column_values_to_not_be_null", c) for c in columns]
    located += [(c, where) for c in found[len(located) :]]
    for number, rule in enumerate(schema.get("quality") or []):
        found += _rule(rule, None, f"{where}.quality[{number}]")
        located += [(c, f"{where}.quality[{number}]") for c in found[len(located) :]]
    for check, at in located:
        vet(check, at)
        column = check.kwargs.get("column")
        if isinstance(column, str) and column in text and numeric_range(check):
            refuse_numeric_range_on_text(check, column, text[column], at)
    return _once(found)


def identity(check: CheckConfig) -> tuple[str, str]:
    """What a check verifies, whatever its name and severity."""
    import json

    return check.expect, json.dumps(check.kwargs, sort_keys=True, default=str)


def _once(checks: list[CheckConfig]) -> list[CheckConfig]:
    """Each check once; said twice with two severities, it blocks."""
    kept: dict[tuple[str, str], CheckConfig] = {}
    for check in checks:
        same = kept.get(identity(check))
        if same is None:
            kept[identity(check)] = check
        elif check.severity == "error" or (check.name and not same.name):
            severity = "error" if "error" in (check.severity, same.severity) else "warn"
            name = same.name or check.name
            kept[identity(check)] = same.model_copy(update={"severity": severity, "name": name})
    return list(kept.values())


def _check(
    expect: str, column: str | None, *, severity: str = "error", name: str | None = None, **kw
) -> CheckConfig:
    kwargs = ({"column": column} if column else {}) | kw
    return CheckConfig(expect=expect, kwargs=kwargs, severity=severity, name=name)


@lru_cache(maxsize=1)
def _duckdb_types() -> frozenset[str]:
    import duckdb

    with duckdb.connect(":memory:") as con:
        return frozenset(
            r[0] for r in con.execute("SELECT upper(type_name) FROM duckdb_types()").fetchall()
        )


def _type_check(prop: dict, column: str, at: str) -> list[CheckConfig]:
    """A DuckDB `physicalType` -> of type; else a `logicalType` -> one of its DuckDB types."""
    physical, logical = prop.get("physicalType"), prop.get("logicalType")
    if physical and base_type(physical) in _duckdb_types():
        return [_check("expect_column_values_to_be_of_type", column, type_=base_type(physical))]
    if logical in LOGICAL_TYPES:
        types = list(LOGICAL_TYPES[logical])
        return [_check("expect_column_values_to_be_in_type_list", column, type_list=types)]
    if physical or logical:
        said = f"physicalType {physical!r}" if physical else f"logicalType {logical!r}"
        raise ContractError(
            f"{at}: {said} cannot be checked in DuckDB. Fix: give a DuckDB physicalType "
            f"(VARCHAR, BIGINT, DECIMAL, TIMESTAMP, ...) or one of the logicalTypes "
            f"{', '.join(LOGICAL_TYPES)}."
        )
    return []


def _options(prop: dict, column: str, at: str) -> list[CheckConfig]:
    options = dict(prop.get("logicalTypeOptions") or {})
    found = []
    low = {k: options.pop(k) for k in ("minimum", "exclusiveMinimum") if k in options}
    high = {k: options.pop(k) for k in ("maximum", "exclusiveMaximum") if k in options}
    if len(low) > 1 or len(high) > 1:
        raise ContractError(
            f"{at}: give `minimum` or `exclusiveMinimum` (and `maximum` or "
            "`exclusiveMaximum`), not both. Fix: keep the one you mean."
        )
    if low or high:
        kwargs = {}
        for bound, given in (("min_value", low), ("max_value", high)):
            for option, value in given.items():
                kwargs[bound] = value
                if option.startswith("exclusive"):
                    kwargs[STRICT[bound]] = True
        found.append(_check("expect_column_values_to_be_between", column, **kwargs))
    lengths = {
        b: options.pop(o)
        for b, o in (("min_value", "minLength"), ("max_value", "maxLength"))
        if o in options
    }
    if lengths:
        found.append(_check("expect_column_value_lengths_to_be_between", column, **lengths))
    if "pattern" in options:
        found.append(
            _check("expect_column_values_to_match_regex", column, regex=options.pop("pattern"))
        )
    if prop.get("logicalType") != "string":
        options = {k: v for k, v in options.items() if k not in _DESCRIPTIVE_OPTIONS}
    if options:
        raise ContractError(
            f"{at}: logicalTypeOptions {', '.join(sorted(options))} cannot be checked by "
            "Groundwork. Fix: remove them from the contract, or state them as a custom "
            f"{GX_ENGINE} rule."
        )
    return found


def _rule(rule: dict, column: str | None, at: str) -> list[CheckConfig]:
    """One ODCS quality rule as checks."""
    kind = rule.get("type") or ("library" if rule.get("metric") or rule.get("rule") else "text")
    severity = str(rule.get("severity") or "error").lower()
    if severity not in _SEVERITIES:
        raise ContractError(
            f"{at}: severity {severity!r} is not one Groundwork knows. Fix: "
            "write `error` (blocking) or `warning`."
        )
    said = {"severity": _SEVERITIES[severity]}
    try:
        if kind == "library":
            found = _library(rule, column, at)
            if rule.get("name") and len(found) == 1:  # a name names one check
                said["name"] = as_check_name(str(rule["name"]))
            return [c.model_copy(update=said) for c in found]
        if kind == "custom" and str(rule.get("engine", "")).lower() in _GX_ENGINES:
            named = {"name": as_check_name(str(rule["name"]))} if rule.get("name") else {}
            return [_custom(rule, column, at).model_copy(update=said | named)]
    except ValidationError as exc:
        raise ContractError(
            f"{at}: not a check Groundwork can run ({exc.errors()[0]['msg']}). "
            "Fix: correct the rule."
        ) from None
    what = rule.get("description") or rule.get("query") or rule.get("engine") or ""
    raise ContractError(
        f"{at}: a `{kind}` rule{f' ({what})' if what else ''} cannot be run by Groundwork's "
        f"checks, which are Great Expectations expectations. Fix: state it as a library metric "
        f"or a custom {GX_ENGINE} rule ({{expectation, kwargs}}), or remove it."
    )


def _library(rule: dict, column: str | None, at: str) -> list[CheckConfig]:
    metric, args = rule.get("metric") or rule.get("rule"), rule.get("arguments") or {}
    given = [o for o in _OPERATORS if rule.get(o) is not None]
    operator = {given[0]: rule[given[0]]} if len(given) == 1 else {}
    if metric == "rowCount":
        kwargs = _row_bounds(operator)
        if kwargs is not None:
            return [_check(_row_expect(kwargs), None, **kwargs)]
    mostly = _mostly(operator, rule.get("unit"))
    if column is None and metric == "duplicateValues" and args.get("properties") and mostly == 1:
        return [
            _check(
                "expect_compound_columns_to_be_unique", None, column_list=list(args["properties"])
            )
        ]
    if column is not None and mostly is not None:
        extra = {} if mostly == 1 else {"mostly": mostly}
        if metric == "nullValues":
            return [_check("expect_column_values_to_not_be_null", column, **extra)]
        if metric == "duplicateValues" and mostly == 1:
            return [_check("expect_column_values_to_be_unique", column)]
        if metric == "invalidValues" and (args.get("validValues") or args.get("pattern")):
            found = []
            if args.get("validValues") is not None:
                found.append(
                    _check(
                        "expect_column_values_to_be_in_set",
                        column,
                        value_set=list(args["validValues"]),
                        **extra,
                    )
                )
            if args.get("pattern"):
                found.append(
                    _check(
                        "expect_column_values_to_match_regex",
                        column,
                        regex=args["pattern"],
                        **extra,
                    )
                )
            return found
        if metric == "missingValues" and mostly == 1 and args.get("missingValues"):
            missing = list(args["missingValues"])
            found = [_check("expect_column_values_to_not_be_null", column)] * (None in missing)
            others = [v for v in missing if v is not None]
            found += [
                _check("expect_column_values_to_not_be_in_set", column, value_set=others)
            ] * bool(others)
            return found
    raise ContractError(
        f"{at}: the library rule {metric!r} with {operator or given or 'no operator'} "
        f"{'on the table' if column is None else f'on column {column}'} cannot be said exactly "
        "as a check Groundwork runs (it checks `mustBe: 0`, or a share of rows with "
        "`unit: percent` and `mustBeLessOrEqualTo`; a row count with one bound or "
        "`mustBeBetween`). Fix: state it that way, or as a custom greatExpectations rule."
    )


def _row_expect(kwargs: dict) -> str:
    return (
        "expect_table_row_count_to_equal"
        if "value" in kwargs
        else "expect_table_row_count_to_be_between"
    )


def _row_bounds(operator: dict) -> dict | None:
    """An ODCS operator on a row count -> the row-count expectation's kwargs."""
    ((name, value),) = operator.items() if operator else ((None, None),)
    numbers = value if isinstance(value, list) else [value]
    if not all(isinstance(v, int) and not isinstance(v, bool) for v in numbers):
        return None
    return {
        "mustBe": {"value": value},
        "mustBeGreaterOrEqualTo": {"min_value": value},
        "mustBeGreaterThan": {"min_value": value, "strict_min": True},
        "mustBeLessOrEqualTo": {"max_value": value},
        "mustBeLessThan": {"max_value": value, "strict_max": True},
        "mustBeBetween": {"min_value": numbers[0], "max_value": numbers[-1]},
    }.get(name)


def _mostly(operator: dict, unit: str | None) -> float | None:
    """The share of rows that must pass: 1 for `mustBe: 0`; `1 - p/100` for `unit: percent`
    with `mustBeLessOrEqualTo: p`; None when the operator says something else."""
    if operator == {"mustBe": 0}:
        return 1
    value = operator.get("mustBeLessOrEqualTo")
    if unit == "percent" and isinstance(value, int | float) and 0 <= value <= 100:
        return round(1 - value / 100, 10)
    return None


def _custom(rule: dict, column: str | None, at: str) -> CheckConfig:
    """A custom Great Expectations rule: `implementation` {expectation, kwargs} (or the
    YAML text of it; `type` / `expectation_type` name the expectation too)."""
    implementation = rule.get("implementation")
    if isinstance(implementation, str):
        try:
            implementation = load_yaml(implementation, at)
        except ContractError as exc:
            if "anchor" in str(exc):
                raise
            implementation = None
    if not isinstance(implementation, dict):
        raise ContractError(
            f"{at}: its implementation is not {{expectation, kwargs}}. Fix: "
            "write `implementation: {expectation: expect_..., kwargs: {...}}`."
        )
    expect = next(
        (
            implementation[k]
            for k in ("expectation", "type", "expectation_type")
            if implementation.get(k)
        ),
        None,
    )
    kwargs = dict(implementation.get("kwargs") or {})
    named = {"column", "column_A", "column_list", "column_set"} & set(kwargs)
    if column and not named and str(expect).startswith("expect_column_"):
        kwargs["column"] = column
    return CheckConfig(expect=str(expect), kwargs=kwargs)
