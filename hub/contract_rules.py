"""Checks out as ODCS v3 rules: every check Groundwork runs on a table, said so that
`hub.contract_checks` reads back exactly the same check.

A blocking one-column check that ODCS says as a property fact is written as that fact: not
null -> `required`, unique -> `unique`, of type -> `physicalType`, a range ->
`logicalTypeOptions` `minimum`/`maximum`/`exclusive*`, value lengths -> `minLength`/
`maxLength`, a regex -> `pattern` (JSON Schema's, which matches anywhere, as GX's does).
Else an ODCS library metric where it means exactly the expectation (`mustBe: 0` of
`nullValues`, `duplicateValues`, `invalidValues` with `validValues`; a `rowCount` bound),
else a `type: custom, engine: greatExpectations` rule holding the expectation and its
kwargs as hub.yaml declares them, so nothing is lost. `severity` is `error` (blocking) or
`warning`.
"""

from __future__ import annotations

from typing import Any

from hub.config import ConfigError

GX_ENGINE = "greatExpectations"
"`engine` of a custom rule that is a Great Expectations expectation, as ODCS spells it."
SEVERITY = {True: "error", False: "warning"}
"A check's `blocking` -> ODCS `severity`."
_INTEGERS = ("TINYINT", "SMALLINT", "INTEGER", "BIGINT", "HUGEINT")
LOGICAL_TYPES: dict[str, tuple[str, ...]] = {
    "string": ("VARCHAR",),
    "integer": _INTEGERS + tuple(f"U{t}" for t in _INTEGERS),
    "number": _INTEGERS + tuple(f"U{t}" for t in _INTEGERS) + ("FLOAT", "DOUBLE", "DECIMAL"),
    "boolean": ("BOOLEAN",),
    "date": ("DATE",),
    "timestamp": (
        "TIMESTAMP",
        "TIMESTAMP WITH TIME ZONE",
        "TIMESTAMP_S",
        "TIMESTAMP_MS",
        "TIMESTAMP_NS",
    ),
    "time": ("TIME", "TIME WITH TIME ZONE"),
}
"ODCS logical type -> the DuckDB types (canonical names) it covers."
STRICT = {"min_value": "strict_min", "max_value": "strict_max"}
"GX range argument -> the argument making it strict."
_BOUNDS = {
    ("min_value", False): "minimum",
    ("min_value", True): "exclusiveMinimum",
    ("max_value", False): "maximum",
    ("max_value", True): "exclusiveMaximum",
}
"(GX range argument, strict) -> ODCS logicalTypeOptions key."


class ContractError(ConfigError):
    """A contract cannot be written or imported; the message names the rule and the fix."""


def base_type(kind: str) -> str:
    """`DECIMAL(12,2)` -> `DECIMAL`: the type name DuckDB's type checks compare."""
    return kind.split("(")[0].strip().upper()


def logical_type(kind: str) -> str | None:
    base = base_type(kind)
    return next((name for name, types in LOGICAL_TYPES.items() if base in types), None)


# --- out: a check as a property fact or a rule -------------------------------------------


def place(
    expect: str, kwargs: dict, blocking: bool, properties: dict[str, dict], key: list[str]
) -> dict | None:
    """Write the check on its column's property when ODCS has a fact that says it (None),
    else return its rule (a library metric, or a custom Great Expectations rule)."""
    named = kwargs.get("column")
    column = properties.get(named) if isinstance(named, str) else None
    args = set(kwargs) - {"column"}
    short = expect.removeprefix("expect_column_values_to_")
    if column is not None and blocking and _as_fact(expect, short, kwargs, args, column):
        return None
    if expect == "expect_compound_columns_to_be_unique" and set(kwargs) == {"column_list"}:
        if blocking and list(kwargs["column_list"]) == key and len(key) > 1:
            return None  # the primary key says it
        columns = list(kwargs["column_list"])
        return {"metric": "duplicateValues", "mustBe": 0, "arguments": {"properties": columns}}
    if column is not None and not args and short in ("not_be_null", "be_unique"):
        return {
            "metric": "nullValues" if short == "not_be_null" else "duplicateValues",
            "mustBe": 0,
        }
    if column is not None and short == "be_in_set" and args == {"value_set"}:
        return {
            "metric": "invalidValues",
            "mustBe": 0,
            "arguments": {"validValues": kwargs["value_set"]},
        }
    operator = _row_count(expect, kwargs)
    if operator:
        return {"metric": "rowCount", **operator}
    return {
        "type": "custom",
        "engine": GX_ENGINE,
        "implementation": {"expectation": expect, "kwargs": kwargs},
    }


def _as_fact(expect: str, short: str, kwargs: dict, args: set, column: dict) -> bool:
    """Write a blocking check as a fact of its column's property, when one says it exactly."""
    logical, options = column.get("logicalType"), column.get("logicalTypeOptions", {})
    fact: dict[str, Any] = {}
    if short == "not_be_null" and not args and not column.get("required"):
        fact = {"required": True}
    elif short == "be_unique" and not args and not column.get("unique"):
        fact = {"unique": True}
    elif short == "be_of_type" and args == {"type_"} and column.get("physicalType"):
        return base_type(str(kwargs["type_"])) == base_type(column["physicalType"])
    elif short == "be_between" and _fits_range(kwargs, logical, options):
        bounds = {b: kwargs[b] for b in ("min_value", "max_value") if kwargs.get(b) is not None}
        fact = {_BOUNDS[b, bool(kwargs.get(STRICT[b]))]: v for b, v in bounds.items()}
    elif expect == "expect_column_value_lengths_to_be_between" and logical == "string":
        lengths = {"min_value": "minLength", "max_value": "maxLength"}
        given = {lengths[b]: kwargs[b] for b in lengths if kwargs.get(b) is not None}
        clear = args <= set(lengths) and all(isinstance(v, int) for v in given.values())
        fact = given if clear and not set(lengths.values()) & set(options) else {}
    elif short == "match_regex" and args == {"regex"} and logical == "string":
        fact = {} if "pattern" in options else {"pattern": kwargs["regex"]}
    if not fact:
        return False
    if {"required", "unique"} & set(fact):
        column.update(fact)
    else:
        column["logicalTypeOptions"] = {**options, **fact}
    return True


def _fits_range(kwargs: dict, logical: str | None, options: dict) -> bool:
    """A range ODCS can say as the column's `minimum`/`maximum` options."""
    if set(kwargs) - {"column", "min_value", "max_value", "strict_min", "strict_max"}:
        return False
    if {"minimum", "maximum", "exclusiveMinimum", "exclusiveMaximum"} & set(options):
        return False
    bounds = [kwargs.get(b) for b in ("min_value", "max_value") if kwargs.get(b) is not None]
    if not bounds:
        return False
    if logical in ("integer", "number"):
        return all(isinstance(b, int | float) and not isinstance(b, bool) for b in bounds)
    return logical in ("date", "timestamp") and all(isinstance(b, str) for b in bounds)


def _row_count(expect: str, kwargs: dict) -> dict | None:
    """The ODCS operator of a row-count expectation, when one says it exactly."""
    values = [kwargs.get(k) for k in ("value", "min_value", "max_value")]
    if not all(v is None or (isinstance(v, int) and not isinstance(v, bool)) for v in values):
        return None
    if expect == "expect_table_row_count_to_equal" and set(kwargs) == {"value"}:
        return {"mustBe": kwargs["value"]}
    if expect != "expect_table_row_count_to_be_between":
        return None
    if set(kwargs) - {"min_value", "max_value", "strict_min", "strict_max"}:
        return None
    low, high = kwargs.get("min_value"), kwargs.get("max_value")
    strict_low, strict_high = bool(kwargs.get("strict_min")), bool(kwargs.get("strict_max"))
    if low is not None and high is None:
        return {"mustBeGreaterThan" if strict_low else "mustBeGreaterOrEqualTo": low}
    if high is not None and low is None:
        return {"mustBeLessThan" if strict_high else "mustBeLessOrEqualTo": high}
    if low is not None and low < high and not (strict_low or strict_high):
        return {"mustBeBetween": [low, high]}
    return None
