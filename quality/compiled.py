"""Great Expectations compiled to DuckDB SQL: every compiled expectation of a table in one
query, where the data is, with GX's result fields and GX's semantics.

GX stays the vocabulary and the reference: `tests/test_compiled_checks.py` runs every
compiled expectation through GX on pandas too, over tables with NULLs, NaN, ±inf, empty
strings, unicode and duplicates, and requires the same success, unexpected count and
observed value. The semantics followed, as GX 1.x on pandas has them:

- NULL and NaN are *missing*: column-map expectations judge the other values only
  (`unexpected_percent` is of the non-missing values) and `mostly` is a share of those;
- a regex matches anywhere in the value (pandas' `str.contains`, Python's `re.search`),
  with Python's Unicode `\\w`, `\\d`, `\\s` and its `$`; one DuckDB's RE2 cannot run the
  same way (a look-ahead, a back-reference, a word boundary) is left to GX;
- a value compares only with arguments of its own kind: a number is never in a set of
  strings, and a numeric range on a text column is a type problem, reported as a failed
  check naming the column's type, never as an error in the check's arguments.

`run` returns the expectations it does not compile; `assets.checks` runs those through GX,
on only the columns they need.
"""

from __future__ import annotations

import datetime as dt
import math
import re
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

import duckdb

from hub.schema import LINEAGE
from hub.store import quote_column, quote_literal
from quality.arguments import ARGUMENTS, FOR_GX, arguments_problem
from quality.re2 import NotSameInRE2, as_re2
from quality.specs import SAMPLE_SIZE, CheckSpec, Verdict

POSITION = "_hub_pos"
_INTEGER = re.compile(r"^(U?(TINY|SMALL|BIG|HUGE)?INT(EGER)?|DECIMAL.*)$")


@dataclass(frozen=True)
class Column:
    name: str
    type: str

    @property
    def sql(self) -> str:
        return quote_column(self.name)

    @property
    def floating(self) -> bool:
        return self.type in ("FLOAT", "DOUBLE")

    @property
    def numeric(self) -> bool:
        return self.floating or bool(_INTEGER.match(self.type))

    @property
    def text(self) -> bool:
        return self.type == "VARCHAR"

    @property
    def temporal(self) -> bool:
        return self.type.startswith(("DATE", "TIMESTAMP", "TIME"))

    @property
    def missing(self) -> str:
        """SQL: the value is missing (NULL, or NaN in a float column, as pandas sees it)."""
        if self.floating:
            return f"({self.sql} IS NULL OR isnan({self.sql}))"
        return f"({self.sql} IS NULL)"


class TypeTrouble(Exception):
    """The column's type cannot hold the check's arguments: the data is wrong, not the check."""


class NotCompiled(Exception):
    """This expectation (or these arguments of it) is left to GX."""


@dataclass
class Plan:
    """What one expectation adds to its table's query, and how it reads the answer."""

    selects: list[str]
    finish: Callable[[list[Any]], tuple[bool, dict[str, Any]]]
    sample: tuple[str, str] | None = None
    "A map expectation's (value, condition): the rows to sample when some are unexpected "
    "(its third select counts them)."
    recount: bool = False
    "Its third select only tells whether some are unexpected: count them when it says so."


@dataclass
class Env:
    """What compilers may know of the table (its name, columns and primary key, DuckDB's
    names for types), and the window values the query computes before aggregating (an
    aggregate's FILTER cannot hold a window)."""

    con: duckdb.DuckDBPyConnection
    table: str
    columns: dict[str, Column]
    key: list[str]
    type_names: dict[str, str]
    windows: dict[str, str] = field(default_factory=dict)
    "SQL expression -> its alias in the rows the aggregates read."

    def column(self, name: object) -> Column:
        if name not in self.columns:
            shown = ", ".join(self.source_columns)
            raise KeyError(f"no column {name!r} (the table has {shown})")
        return self.columns[name]

    @property
    def source_columns(self) -> list[str]:
        """The columns as the source has them: without Groundwork's lineage columns."""
        return [name for name in self.columns if name not in LINEAGE]

    def window(self, expression: str) -> str:
        return self.windows.setdefault(expression, f"_hub_window_{len(self.windows)}")

    @property
    def rows(self) -> str:
        """What the aggregates read: the table, with the windows and each row's position."""
        windows = "".join(
            f", {expression} AS {alias}" for expression, alias in self.windows.items()
        )
        return f"(SELECT *, rowid AS {POSITION}{windows} FROM {self.table})"

    def sample(self, value: str, condition: str) -> str:
        """A select: the first SAMPLE_SIZE values meeting `condition`, each with its row's
        key (`min_by` keeps only those however many rows fail)."""
        keys = [quote_column(k) for k in self.key if k in self.columns]
        key = f"concat_ws(', ', {', '.join(f'CAST({k} AS VARCHAR)' for k in keys)})"
        pair = f"{{'value': {value}, 'key': {key if keys else 'NULL'}}}"
        return f"min_by({pair}, {POSITION}, {SAMPLE_SIZE}) FILTER (WHERE {condition})"


COMPILERS: dict[str, Callable[[CheckSpec, Env], Plan]] = {}


def compiles(*names: str, arguments: tuple[str, ...] | None = None) -> Callable:
    """Compile these GX expectations with the decorated function. `arguments`: those GX
    gives them besides the ones every expectation takes (the table in `quality.arguments`
    holds them for the expectations that do not say), so adding one is this module alone."""

    def register(build: Callable[[CheckSpec, Env], Plan]) -> Callable:
        for name in names:
            COMPILERS[name] = build
            if arguments is not None:
                ARGUMENTS[name] = arguments
        return build

    return register


def run(
    con: duckdb.DuckDBPyConnection, table: str, specs: list[CheckSpec], key: list[str]
) -> tuple[list[Verdict], list[CheckSpec]]:
    """Verdicts of the specs compiled here, all evaluated in one query over `table` (a
    quoted table reference), and the specs left to GX. Each distinct aggregate is computed
    once, whichever expectations read it; the samples of unexpected values (and their rows'
    keys) come from a second query, over the failing expectations only."""
    described = con.execute(f"DESCRIBE {table}").fetchall()
    type_names = dict(
        con.execute("SELECT upper(type_name), logical_type FROM duckdb_types()").fetchall()
    )
    columns = {name: Column(name, str(kind)) for name, kind, *_ in described}
    env = Env(con, table, columns, key, type_names)
    plans: dict[str, Plan] = {}
    verdicts: dict[str, Verdict] = {}
    left: list[CheckSpec] = []
    spec_of = {spec.name: spec for spec in specs}
    for spec in specs:
        try:
            if spec.expectation not in COMPILERS or any(a in spec.kwargs for a in FOR_GX):
                raise NotCompiled
            problem = arguments_problem(spec)
            if problem:
                raise ValueError(problem)
            plans[spec.name] = COMPILERS[spec.expectation](spec, env)
        except NotCompiled:
            left.append(spec)
        except TypeTrouble as trouble:
            verdicts[spec.name] = Verdict(spec.name, False, {"type_problem": str(trouble)})
        except (KeyError, ValueError, TypeError, re.error) as exc:
            message = exc.args[0] if exc.args else type(exc).__name__
            verdicts[spec.name] = Verdict(spec.name, None, error=f"{spec.expectation}: {message}")
    if plans:
        values, errors = _answers(env, plans)
        for name, error in errors.items():
            verdicts[name] = Verdict(name, None, error=f"{spec_of[name].expectation}: {error}")
            del plans[name]
        failing = {n: p for n, p in plans.items() if p.sample and values[n][2]}
        samples = _samples(env, failing)
        for name, plan in plans.items():
            if name in samples:
                sample, keys, exact = samples[name]
                values[name][2] = exact if plan.recount else values[name][2]
            try:
                passed, fields = plan.finish(values[name])
            except (TypeError, ValueError) as exc:  # an observed value its bounds cannot meet
                error = (
                    f"{spec_of[name].expectation}: the observed value cannot be compared with "
                    f"the arguments given ({exc}); write them as values of the column's kind"
                )
                verdicts[name] = Verdict(name, None, error=error)
                continue
            if name in samples:
                fields |= {"unexpected_sample": sample, "unexpected_keys": keys}
            verdicts[name] = Verdict(name, passed, fields)
    return [verdicts[s.name] for s in specs if s.name in verdicts], left


def _answers(env: Env, plans: dict[str, Plan]) -> tuple[dict[str, list], dict[str, str]]:
    """Each plan's selects, answered by one query over the table; should DuckDB refuse it
    (an expression it cannot bind or run on this data), each plan alone, so that one
    expectation's trouble is its own error and the others still get their verdicts."""

    def answer(group: dict[str, Plan]) -> dict[str, list]:
        selects = list(dict.fromkeys(s for plan in group.values() for s in plan.selects))
        rows = env.rows if env.windows else env.table
        found = env.con.execute(f"SELECT {', '.join(selects) or 'NULL'} FROM {rows}").fetchone()
        at = {select: found[i] for i, select in enumerate(selects)}
        return {name: [at[s] for s in plan.selects] for name, plan in group.items()}

    try:
        return answer(plans), {}
    except duckdb.Error:
        pass
    values, errors = {}, {}
    for name, plan in plans.items():
        try:
            values |= answer({name: plan})
        except duckdb.Error as exc:
            errors[name] = str(exc).splitlines()[0]
    return values, errors


def _samples(env: Env, plans: dict[str, Plan]) -> dict[str, tuple[list, list, int | None]]:
    """For each failing map expectation: its first unexpected values, their rows' keys, and
    (when its plan asks for a recount) the exact count of its unexpected rows; one query."""
    if not plans:
        return {}
    selects: list[str] = []
    at: dict[str, tuple[int, int | None]] = {}
    for name, plan in plans.items():
        value, condition = plan.sample
        at[name] = (len(selects), len(selects) + 1 if plan.recount else None)
        selects += [env.sample(value, condition)]
        selects += [f"count(*) FILTER (WHERE {condition})"] if plan.recount else []
    answer = env.con.execute(f"SELECT {', '.join(selects)} FROM {env.rows}").fetchone()
    found = {}
    for name, (sample, count) in at.items():
        pairs = answer[sample] or []
        found[name] = (
            [_plain(pair["value"]) for pair in pairs],
            [pair["key"] for pair in pairs],
            None if count is None else answer[count],
        )
    return found


# --- column map expectations: each row's value is expected or not -------------------


def _rows_plan(
    spec: CheckSpec,
    env: Env,
    value: str,
    missing: str,
    unexpected: str,
    missing_count: str | None = None,
) -> Plan:
    """A GX map expectation: `unexpected` judged on the rows where `missing` is false, and
    `mostly` a share of those."""
    condition = f"NOT {missing} AND ({unexpected})"
    selects = [
        "count(*)",
        missing_count or f"count(*) FILTER (WHERE {missing})",
        f"count(*) FILTER (WHERE {condition})",
    ]
    mostly = float(spec.kwargs.get("mostly", 1.0))

    def finish(values: list[Any]) -> tuple[bool, dict[str, Any]]:
        total, missed, bad = values
        judged = total - missed
        fields = {
            "element_count": total,
            "missing_count": missed,
            "unexpected_count": bad,
            "unexpected_percent": bad / judged * 100 if judged else None,
        }
        return (not judged or (judged - bad) / judged >= mostly), fields

    return Plan(selects, finish, (value, condition))


def _map_plan(spec: CheckSpec, env: Env, column: Column, unexpected: str) -> Plan:
    """A map expectation on one column (its NULLs counted without a filter, NaN too)."""
    counted = None if column.floating else f"count(*) - count({column.sql})"
    return _rows_plan(spec, env, column.sql, column.missing, unexpected, counted)


@compiles("expect_column_values_to_not_be_null", "expect_column_values_to_be_null")
def _nulls(spec: CheckSpec, env: Env) -> Plan:
    """Every row is judged here: a missing value is the unexpected one (or the expected)."""
    column = env.column(spec.kwargs.get("column"))
    unexpected = column.missing
    if spec.expectation.endswith("to_be_null"):
        unexpected = f"NOT {column.missing}"
    plan = _rows_plan(spec, env, column.sql, "false", unexpected)
    finish = plan.finish

    def without_missing(values: list[Any]) -> tuple[bool, dict[str, Any]]:
        passed, fields = finish(values)
        del fields["missing_count"]
        return passed, fields

    plan.finish = without_missing
    return plan


@compiles("expect_column_values_to_be_unique")
def _unique(spec: CheckSpec, env: Env) -> Plan:
    """GX counts every row of a repeated value as unexpected, the first one too. The scan
    of all checks only compares the count of values with the count of distinct ones (as a
    hand-written check would); the rows are counted only when some value repeats."""
    column = env.column(spec.kwargs.get("column"))
    repeated = (
        f"{column.sql} IN (SELECT {column.sql} FROM {env.table} "
        f"GROUP BY {column.sql} HAVING count(*) > 1)"
    )
    plan = _map_plan(spec, env, column, repeated)
    present = f"FILTER (WHERE NOT {column.missing})"
    plan.selects[2] = f"count({column.sql}) {present} - count(DISTINCT {column.sql}) {present}"
    plan.recount = True
    return plan


@compiles("expect_compound_columns_to_be_unique")
def _compound_unique(spec: CheckSpec, env: Env) -> Plan:
    """A row is missing when all its columns are (GX's default `ignore_row_if`)."""
    if spec.kwargs.get("ignore_row_if", "all_values_are_missing") != "all_values_are_missing":
        raise NotCompiled
    columns = [env.column(name) for name in spec.kwargs.get("column_list") or []]
    if not columns:
        raise ValueError("give `column_list`")
    value = f"[{', '.join(f'CAST({c.sql} AS VARCHAR)' for c in columns)}]"
    missing = f"({' AND '.join(c.missing for c in columns)})"
    partition = ", ".join(c.sql for c in columns)  # a window: NULLs group together, as in pandas
    repeats = env.window(f"count(*) OVER (PARTITION BY {partition})")
    return _rows_plan(spec, env, value, missing, f"{repeats} > 1")


@compiles("expect_column_values_to_be_in_set", "expect_column_values_to_not_be_in_set")
def _in_set(spec: CheckSpec, env: Env) -> Plan:
    column = env.column(spec.kwargs.get("column"))
    literals = [_literal(v, column) for v in _value_set(spec, column)]
    comparable = [v for v in literals if v is not None]
    member = f"{column.sql} IN ({', '.join(comparable)})" if comparable else "false"
    unexpected = f"NOT ({member})" if "_to_be_in_set" in spec.expectation else member
    return _map_plan(spec, env, column, unexpected)


def _value_set(spec: CheckSpec, column: Column) -> list[Any]:
    """The set's values; a quoted date or time for a column of times is the check's fault
    (pandas would convert it, DuckDB does not guess)."""
    values = list(spec.kwargs.get("value_set") or [])
    quoted = [v for v in values if isinstance(v, str)]
    if column.temporal and quoted:
        raise ValueError(
            f"{quoted[0]!r} is text and `{column.name}` is {column.type}: write the values "
            "without quotes in hub.yaml (YAML then reads dates and timestamps)"
        )
    return values


@compiles("expect_column_values_to_be_between")
def _between(spec: CheckSpec, env: Env) -> Plan:
    column = env.column(spec.kwargs.get("column"))
    return _map_plan(spec, env, column, f"NOT ({_range_sql(column, column.sql, spec.kwargs)})")


@compiles("expect_column_values_to_match_regex", "expect_column_values_to_not_match_regex")
def _regex(spec: CheckSpec, env: Env) -> Plan:
    column = _text_column(env, spec, "a regex")
    regex = spec.kwargs.get("regex")
    if not isinstance(regex, str):
        raise ValueError("give `regex` as a string")
    re.compile(regex)  # Python says what is wrong with a broken pattern
    try:
        regex = as_re2(regex)
        env.con.execute("SELECT regexp_matches('', ?)", [regex])
    except (NotSameInRE2, duckdb.Error):
        raise NotCompiled from None  # Python's syntax beyond RE2's
    matches = f"regexp_matches({column.sql}, {quote_literal(regex)})"
    unexpected = f"NOT {matches}" if "_to_match_" in spec.expectation else matches
    return _map_plan(spec, env, column, unexpected)


@compiles(
    "expect_column_values_to_match_like_pattern", "expect_column_values_to_not_match_like_pattern"
)
def _like(spec: CheckSpec, env: Env) -> Plan:
    column = _text_column(env, spec, "a LIKE pattern")
    pattern = spec.kwargs.get("like_pattern")
    if not isinstance(pattern, str):
        raise ValueError("give `like_pattern` as a string")
    matches = f"({column.sql} LIKE {quote_literal(pattern)})"
    unexpected = f"NOT {matches}" if "_to_match_" in spec.expectation else matches
    return _map_plan(spec, env, column, unexpected)


@compiles("expect_column_value_lengths_to_be_between", "expect_column_value_lengths_to_equal")
def _lengths(spec: CheckSpec, env: Env) -> Plan:
    column = _text_column(env, spec, "a length")
    length = f"length({column.sql})"
    if spec.expectation.endswith("to_equal"):
        return _map_plan(spec, env, column, f"{length} <> {int(spec.kwargs['value'])}")
    bounds = {k: spec.kwargs.get(k) for k in ("min_value", "max_value", "strict_min", "strict_max")}
    inside = _range_sql(Column("length", "BIGINT"), length, bounds)
    return _map_plan(spec, env, column, f"NOT ({inside})")


@compiles("expect_column_values_to_be_increasing", "expect_column_values_to_be_decreasing")
def _monotonic(spec: CheckSpec, env: Env) -> Plan:
    """Each value against the previous non-missing one, in table order."""
    column = env.column(spec.kwargs.get("column"))
    if not (column.numeric or column.temporal):
        raise TypeTrouble(_type_message(column, "increasing or decreasing values"))
    strict = bool(spec.kwargs.get("strictly"))
    increasing = spec.expectation.endswith("increasing")
    operator = {(True, True): "<=", (True, False): "<", (False, True): ">=", (False, False): ">"}
    kept = f"CASE WHEN NOT {column.missing} THEN {column.sql} END"
    previous = (
        f"last_value({kept} IGNORE NULLS) OVER (ORDER BY rowid "
        "ROWS BETWEEN UNBOUNDED PRECEDING AND 1 PRECEDING)"
    )
    unexpected = (
        f"coalesce({column.sql} {operator[increasing, strict]} {env.window(previous)}, false)"
    )
    return _map_plan(spec, env, column, unexpected)


@compiles(
    "expect_column_pair_values_a_to_be_greater_than_b", "expect_column_pair_values_to_be_equal"
)
def _pair(spec: CheckSpec, env: Env) -> Plan:
    """Rows where both values are missing are skipped (GX's default `ignore_row_if`); a
    missing value beside a present one is unexpected."""
    if spec.kwargs.get("ignore_row_if", "both_values_are_missing") != "both_values_are_missing":
        raise NotCompiled
    a, b = env.column(spec.kwargs.get("column_A")), env.column(spec.kwargs.get("column_B"))
    kinds = {(c.numeric, c.text, c.temporal) for c in (a, b)}
    if spec.expectation.endswith("to_be_equal"):  # a number never equals a text (pandas)
        holds = f"{a.sql} = {b.sql}" if len(kinds) == 1 else "false"
    elif len(kinds) > 1:
        raise TypeTrouble(
            f"columns `{a.name}` ({a.type}) and `{b.name}` ({b.type}) cannot be compared; "
            "declare their types in `columns:` or fix the source"
        )
    else:
        holds = f"{a.sql} {'>=' if spec.kwargs.get('or_equal') else '>'} {b.sql}"
    value = f"[CAST({a.sql} AS VARCHAR), CAST({b.sql} AS VARCHAR)]"
    missing = f"({a.missing} AND {b.missing})"
    unexpected = f"{a.missing} OR {b.missing} OR NOT ({holds})"
    return _rows_plan(spec, env, value, missing, unexpected)


_PANDAS_DTYPE = re.compile(
    r"^(U?Int|u?int)(8|16|32|64)$|^[Ff]loat(16|32|64)$|^(bool|boolean|object|string|category)$"
    r"|^(datetime|timedelta)64|^complex"
)
"pandas' dtype names, as written in pandas (DuckDB's names are matched in any case)."


@compiles("expect_column_values_to_be_of_type", "expect_column_values_to_be_in_type_list")
def _types(spec: CheckSpec, env: Env) -> Plan:
    """Types by DuckDB's names (`BIGINT`, `INT8`, `VARCHAR`, ...); a pandas dtype name
    (`int64`, `object`) is about a pandas frame, so GX judges it."""
    column = env.column(spec.kwargs.get("column"))
    wanted = (
        spec.kwargs.get("type_list")
        if "type_list" in spec.expectation
        else [spec.kwargs.get("type_")]
    )
    if not isinstance(wanted, list) or not all(isinstance(t, str) for t in wanted):
        raise ValueError("give the type names as strings")
    if any(_PANDAS_DTYPE.match(t) for t in wanted):
        raise NotCompiled  # `int64` is pandas' int64, not DuckDB's INT64 alias
    canonical = [env.type_names.get(t.upper()) for t in wanted]
    if not all(canonical):
        raise NotCompiled
    observed = column.type.split("(")[0]
    return Plan([], lambda _: (observed in canonical, {"observed_value": column.type}))


# --- table expectations -------------------------------------------------------------


@compiles("expect_table_row_count_to_be_between", "expect_table_row_count_to_equal")
def _row_count(spec: CheckSpec, env: Env) -> Plan:
    return _observed(spec, ["count(*)"], lambda v: v[0])


@compiles("expect_table_column_count_to_be_between", "expect_table_column_count_to_equal")
def _column_count(spec: CheckSpec, env: Env) -> Plan:
    return _observed(spec, [], lambda _: len(env.source_columns))


@compiles("expect_table_columns_to_match_set", "expect_table_columns_to_match_ordered_list")
def _columns(spec: CheckSpec, env: Env) -> Plan:
    names = env.source_columns
    if spec.expectation.endswith("ordered_list"):
        wanted = list(spec.kwargs.get("column_list") or [])
        return Plan([], lambda _: (names == wanted, {"observed_value": names}))
    expected = set(spec.kwargs.get("column_set") or [])
    exact = spec.kwargs.get("exact_match", True)

    def finish(_: list[Any]) -> tuple[bool, dict[str, Any]]:
        passed = set(names) == expected if exact else expected <= set(names)
        return passed, {"observed_value": sorted(names)}

    return Plan([], finish)


# --- column aggregate expectations: one observed value ------------------------------

_AGGREGATES = {
    "expect_column_min_to_be_between": "min",
    "expect_column_max_to_be_between": "max",
    "expect_column_mean_to_be_between": "avg",
    "expect_column_median_to_be_between": "median",
    "expect_column_sum_to_be_between": "sum",
    "expect_column_stdev_to_be_between": "stddev_samp",
}


_SAID_AS = {"avg": "mean", "stddev_samp": "standard deviation", "min": "minimum"}
_SAID_AS |= {"max": "maximum", "median": "median", "sum": "sum"}


@compiles(*_AGGREGATES)
def _aggregate(spec: CheckSpec, env: Env) -> Plan:
    """min and max of any ordered column; the others of numbers only, as doubles (pandas).
    A standard deviation over an infinite value is NaN (DuckDB would raise)."""
    column = env.column(spec.kwargs.get("column"))
    function = _AGGREGATES[spec.expectation]
    ordered = function in ("min", "max")
    if not (column.numeric or (ordered and (column.text or column.temporal))):
        raise TypeTrouble(_type_message(column, f"a {_SAID_AS[function]}"))
    _bounds(column if ordered else Column(column.name, "DOUBLE"), spec.kwargs)
    values = f"{column.sql}) FILTER (WHERE NOT {column.missing}"
    select = f"{function}({values})"
    if not ordered:
        select = f"CAST({select} AS DOUBLE)"
    if function == "sum":
        select = f"coalesce({select}, 0)"
    if function == "stddev_samp" and column.floating:
        finite = f"{column.sql}) FILTER (WHERE NOT {column.missing} AND NOT isinf({column.sql})"
        select = (
            f"CASE WHEN count(*) FILTER (WHERE isinf({column.sql})) > 0 THEN 'NaN'::DOUBLE "
            f"ELSE CAST(stddev_samp({finite}) AS DOUBLE) END"
        )
    return _observed(spec, [select], lambda v: v[0])


@compiles(
    "expect_column_distinct_values_to_be_in_set",
    "expect_column_distinct_values_to_contain_set",
    "expect_column_distinct_values_to_equal_set",
)
def _distinct(spec: CheckSpec, env: Env) -> Plan:
    """As GX: `unexpected_count` distinct values outside the set, `missing_count` values of
    the set never seen (no observed value)."""
    column = env.column(spec.kwargs.get("column"))
    select = f"list(DISTINCT {column.sql}) FILTER (WHERE NOT {column.missing})"
    wanted = _value_set(spec, column)
    kind = spec.expectation.rpartition("_to_")[2]

    def finish(values: list[Any]) -> tuple[bool, dict[str, Any]]:
        found = sorted((_plain(v) for v in values[0] or []), key=_sort_key)
        unexpected = [v for v in found if v not in wanted]
        missing = [v for v in wanted if v not in found]
        fields: dict[str, Any] = {}
        if kind != "contain_set":  # no value outside the set
            fields |= {"unexpected_count": len(unexpected), "unexpected_sample": unexpected}
        if kind != "be_in_set":  # every value of the set seen
            fields |= {"missing_count": len(missing), "missing_values": missing}
        return not fields.get("unexpected_count") and not fields.get("missing_count"), fields

    return Plan([select], finish)


@compiles("expect_column_unique_value_count_to_be_between")
def _unique_count(spec: CheckSpec, env: Env) -> Plan:
    column = env.column(spec.kwargs.get("column"))
    select = f"count(DISTINCT {column.sql}) FILTER (WHERE NOT {column.missing})"
    return _observed(spec, [select], lambda v: v[0])


@compiles("expect_column_proportion_of_unique_values_to_be_between")
def _unique_share(spec: CheckSpec, env: Env) -> Plan:
    column = env.column(spec.kwargs.get("column"))
    selects = [
        f"count(DISTINCT {column.sql}) FILTER (WHERE NOT {column.missing})",
        f"count(*) FILTER (WHERE NOT {column.missing})",
    ]
    return _observed(spec, selects, lambda v: v[0] / v[1] if v[1] else 0)


@compiles("expect_column_most_common_value_to_be_in_set")
def _most_common(spec: CheckSpec, env: Env) -> Plan:
    """The modes: every non-missing value as frequent as the most frequent one."""
    column = env.column(spec.kwargs.get("column"))
    counts = f"histogram({column.sql}) FILTER (WHERE NOT {column.missing})"
    select = (
        f"list_transform(list_filter(map_entries({counts}), "
        f"e -> e.value = list_max(map_values({counts}))), e -> e.key)"
    )
    wanted = _value_set(spec, column)
    ties_okay = bool(spec.kwargs.get("ties_okay"))

    def finish(values: list[Any]) -> tuple[bool, dict[str, Any]]:
        modes = sorted((_plain(v) for v in values[0] or []), key=_sort_key)
        inside = [m in wanted for m in modes]
        passed = bool(modes) and (any(inside) if ties_okay else all(inside) and len(modes) == 1)
        return passed, {"observed_value": modes}

    return Plan([select], finish)


def _observed(spec: CheckSpec, selects: list[str], value: Callable[[list[Any]], Any]) -> Plan:
    """An aggregate expectation: `value` of the selects, judged against min/max (or value)."""

    def finish(values: list[Any]) -> tuple[bool, dict[str, Any]]:
        observed = _plain(value(values))
        return _within(observed, spec.kwargs), {"observed_value": observed}

    return Plan(selects, finish)


def _within(observed: Any, kwargs: dict[str, Any]) -> bool:
    if "value" in kwargs:
        return observed == kwargs["value"]
    if observed is None or (isinstance(observed, float) and math.isnan(observed)):
        return False
    low = _comparable(kwargs.get("min_value"), observed)
    high = _comparable(kwargs.get("max_value"), observed)
    if low is not None and (observed < low or (kwargs.get("strict_min") and observed == low)):
        return False
    return not (
        high is not None and (observed > high or (kwargs.get("strict_max") and observed == high))
    )


def _comparable(bound: Any, observed: Any) -> Any:
    """A bound as a value of the observed one's kind: a date (YAML's `2013-01-01`) as the
    start of that day for a timestamp, a timestamp without a zone as UTC for one with, a
    timestamp as its date for a date (as pandas compares them)."""
    if isinstance(observed, dt.datetime) and type(bound) is dt.date:
        bound = dt.datetime.combine(bound, dt.time())
    if isinstance(observed, dt.datetime) and isinstance(bound, dt.datetime):
        if observed.tzinfo and not bound.tzinfo:
            return bound.replace(tzinfo=dt.UTC)
        if bound.tzinfo and not observed.tzinfo:
            return bound.astimezone(dt.UTC).replace(tzinfo=None)
        return bound
    if type(observed) is dt.date and isinstance(bound, dt.datetime):
        return bound.date() if bound.time() == dt.time() else bound
    return bound


# --- arguments ----------------------------------------------------------------------


def _range_sql(column: Column, value: str, kwargs: dict[str, Any]) -> str:
    """SQL: `value` lies within min_value/max_value (strict_min/strict_max)."""
    return " AND ".join(
        f"{value} {operator}{'' if kwargs.get(strict) else '='} {literal}"
        for literal, operator, strict in _bounds(column, kwargs)
    )


def _bounds(column: Column, kwargs: dict[str, Any]) -> list[tuple[str, str, str]]:
    """(SQL literal, operator, strictness argument) of each bound given; a bound a value of
    the column cannot be compared with is the data's type problem."""
    given = {
        "min_value": (kwargs.get("min_value"), ">", "strict_min"),
        "max_value": (kwargs.get("max_value"), "<", "strict_max"),
    }
    given = {k: v for k, v in given.items() if v[0] is not None}
    if not given and "value" not in kwargs:
        raise ValueError("give `min_value`, `max_value` or both")
    literals = []
    for bound, operator, strict in given.values():
        literal = _literal(bound, column)
        if literal is None and isinstance(bound, str):  # the check's fault: a quoted bound
            raise ValueError(
                f"the bound {bound!r} is text and `{column.name}` is {column.type}: "
                "write it without quotes in hub.yaml (YAML then reads a number or a date)"
            )
        if literal is None:
            raise TypeTrouble(_type_message(column, f"the bound {bound!r}"))
        literals.append((literal, operator, strict))
    return literals


def _literal(value: Any, column: Column) -> str | None:
    """A SQL literal of `value` if a value of the column can equal it, else None (a number
    is never equal to a string, as in pandas)."""
    if isinstance(value, bool):
        return ("true" if value else "false") if column.type == "BOOLEAN" else None
    if isinstance(value, int | float):
        if not column.numeric:
            return None
        if isinstance(value, float) and not math.isfinite(value):
            return f"'{value}'::DOUBLE"
        return repr(value)
    if isinstance(value, dt.date | dt.datetime):
        if not column.temporal:
            return None
        return f"CAST({quote_literal(value.isoformat())} AS {column.type})"
    if isinstance(value, str):
        return quote_literal(value) if column.text else None
    return None


def _text_column(env: Env, spec: CheckSpec, what: str) -> Column:
    column = env.column(spec.kwargs.get("column"))
    if not column.text:
        raise TypeTrouble(_type_message(column, what))
    return column


def _type_message(column: Column, what: str) -> str:
    return (
        f"column `{column.name}` is {column.type}, which cannot be checked against {what}; "
        "declare its type in `columns:` or fix the source"
    )


def _plain(value: Any) -> Any:
    """A value as GX reports it: NaN as None, DECIMAL as float."""
    if isinstance(value, float) and math.isnan(value):
        return None
    if type(value).__name__ == "Decimal":
        return float(value)
    return value


def _sort_key(value: Any) -> tuple[str, Any]:
    return (type(value).__name__, value)
