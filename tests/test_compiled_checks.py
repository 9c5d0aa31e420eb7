"""GX as the oracle: every expectation compiled to DuckDB SQL gives GX's answer.

Each table below is validated twice, by GX 1.x on the pandas frame DuckDB hands out and by
`quality.compiled` in one query, and every expectation must agree on success, unexpected
count and observed value. The tables carry what real data carries: NULLs, NaN, ±inf, empty
strings, unicode, mixed case, duplicates and very long strings; the arguments cover
`mostly`, `strict_min`/`strict_max`, empty sets and bounds on one side only.
"""

from __future__ import annotations

import math

import duckdb
import pytest

from quality import arguments, compiled
from quality.gx_bridge import run_expectations
from quality.specs import CheckSpec

TABLES = {
    "messy": """
        SELECT * FROM (VALUES
          (1, 1.5, 'a', 'Zoë', 10, 9),
          (2, NULL, 'b', '', 20, 20),
          (2, 'NaN'::DOUBLE, 'B', 'x', 30, 31),
          (4, 'inf'::DOUBLE, NULL, 'long' || repeat('y', 5000), NULL, 1),
          (NULL, -2.0, 'a', 'a@b.com', 5, NULL),
          (7, '-inf'::DOUBLE, 'A', 'ÅNGSTRÖM', 6, 6),
          (8, 0.0, 'a', 'a%_b', 7, 3),
          (9, 3.25, '', 'abc', 8, 8),
          (10, 1.0, 'c', 'Muñoz Marín 12٣' || chr(10), 9, 9),
          (11, 2.0, 'c', 'tab' || chr(9) || 'nbsp' || chr(160) || 'x', 9, 9)
        ) v(i, f, s, u, p, q)""",
    "clean": """
        SELECT range AS i, range * 0.5 AS f, chr(97 + (range % 3)::INT) AS s,
          'id-' || range AS u, range AS p, range - 1 AS q
        FROM range(1, 40)""",
    "empty": "SELECT 1::BIGINT AS i, 1.0::DOUBLE AS f, 'a' AS s, 'a' AS u, 1 AS p, 1 AS q "
    "WHERE false",
    "nulls": "SELECT NULL::BIGINT AS i, NULL::DOUBLE AS f, NULL::VARCHAR AS s, "
    "NULL::VARCHAR AS u, NULL::BIGINT AS p, NULL::BIGINT AS q FROM range(3)",
}

CASES = [
    ("expect_column_values_to_not_be_null", {"column": "i"}),
    ("expect_column_values_to_not_be_null", {"column": "f"}),
    ("expect_column_values_to_not_be_null", {"column": "s", "mostly": 0.8}),
    ("expect_column_values_to_be_null", {"column": "s"}),
    ("expect_column_values_to_be_null", {"column": "f", "mostly": 0.2}),
    ("expect_column_values_to_be_unique", {"column": "i"}),
    ("expect_column_values_to_be_unique", {"column": "s"}),
    ("expect_column_values_to_be_unique", {"column": "f"}),
    ("expect_compound_columns_to_be_unique", {"column_list": ["i", "s"]}),
    ("expect_compound_columns_to_be_unique", {"column_list": ["s", "p"]}),
    ("expect_column_values_to_be_in_set", {"column": "s", "value_set": ["a", "b"]}),
    ("expect_column_values_to_be_in_set", {"column": "s", "value_set": ["a", "b", "A", "B", ""]}),
    ("expect_column_values_to_be_in_set", {"column": "s", "value_set": []}),
    ("expect_column_values_to_be_in_set", {"column": "i", "value_set": [1, 2, 4]}),
    ("expect_column_values_to_be_in_set", {"column": "i", "value_set": ["1", "2"]}),
    ("expect_column_values_to_be_in_set", {"column": "s", "value_set": ["a"], "mostly": 0.4}),
    ("expect_column_values_to_not_be_in_set", {"column": "s", "value_set": ["a", "Zoë"]}),
    ("expect_column_values_to_not_be_in_set", {"column": "i", "value_set": []}),
    ("expect_column_values_to_be_between", {"column": "f", "min_value": 0, "max_value": 2}),
    ("expect_column_values_to_be_between", {"column": "f", "min_value": 1.5, "strict_min": True}),
    ("expect_column_values_to_be_between", {"column": "i", "max_value": 4, "strict_max": True}),
    ("expect_column_values_to_be_between", {"column": "i", "min_value": 1, "max_value": 9}),
    ("expect_column_values_to_be_between", {"column": "p", "min_value": 5, "mostly": 0.5}),
    ("expect_column_values_to_match_regex", {"column": "u", "regex": "a"}),
    ("expect_column_values_to_match_regex", {"column": "u", "regex": "b"}),
    ("expect_column_values_to_match_regex", {"column": "u", "regex": "(?i)^a"}),
    ("expect_column_values_to_match_regex", {"column": "u", "regex": r"^(\w)\1"}),
    ("expect_column_values_to_match_regex", {"column": "u", "regex": r"^[a-z]+$"}),
    ("expect_column_values_to_match_regex", {"column": "u", "regex": r"[^@\s]+@[^@\s]+\.\w+"}),
    ("expect_column_values_to_match_regex", {"column": "s", "regex": "[a-z]", "mostly": 0.5}),
    ("expect_column_values_to_not_match_regex", {"column": "u", "regex": "y+"}),
    # Python's \w, \d, \s are Unicode (RE2's are ASCII); its $ also matches before a final \n
    ("expect_column_values_to_match_regex", {"column": "u", "regex": r"^[\w .]+$"}),
    ("expect_column_values_to_match_regex", {"column": "u", "regex": r"^\w+\s\w+"}),
    ("expect_column_values_to_match_regex", {"column": "u", "regex": r"\d$"}),
    ("expect_column_values_to_match_regex", {"column": "u", "regex": r"^\D*$"}),
    ("expect_column_values_to_match_regex", {"column": "u", "regex": r"\S\s\S"}),
    ("expect_column_values_to_not_match_regex", {"column": "u", "regex": r"[^\w\s.]"}),
    ("expect_column_values_to_not_match_regex", {"column": "u", "regex": r"\W"}),
    ("expect_column_values_to_match_regex", {"column": "u", "regex": r"[]a-z]"}),
    ("expect_column_values_to_not_match_regex", {"column": "u", "regex": "Å"}),
    ("expect_column_value_lengths_to_be_between", {"column": "u", "min_value": 1}),
    ("expect_column_value_lengths_to_be_between", {"column": "u", "min_value": 1, "max_value": 3}),
    ("expect_column_value_lengths_to_be_between", {"column": "s", "max_value": 0}),
    ("expect_column_value_lengths_to_equal", {"column": "s", "value": 1}),
    ("expect_column_values_to_be_increasing", {"column": "i"}),
    ("expect_column_values_to_be_increasing", {"column": "i", "strictly": True}),
    ("expect_column_values_to_be_increasing", {"column": "p"}),
    ("expect_column_values_to_be_decreasing", {"column": "f"}),
    ("expect_column_values_to_be_decreasing", {"column": "q", "strictly": True}),
    ("expect_column_pair_values_a_to_be_greater_than_b", {"column_A": "p", "column_B": "q"}),
    (
        "expect_column_pair_values_a_to_be_greater_than_b",
        {"column_A": "p", "column_B": "q", "or_equal": True},
    ),
    ("expect_column_pair_values_to_be_equal", {"column_A": "p", "column_B": "q"}),
    ("expect_table_row_count_to_be_between", {"min_value": 1}),
    ("expect_table_row_count_to_be_between", {"min_value": 2, "max_value": 8}),
    ("expect_table_row_count_to_be_between", {"max_value": 8, "strict_max": True}),
    ("expect_table_row_count_to_equal", {"value": 8}),
    ("expect_table_column_count_to_equal", {"value": 6}),
    ("expect_table_column_count_to_be_between", {"min_value": 7}),
    ("expect_table_columns_to_match_set", {"column_set": ["i", "f", "s", "u", "p", "q"]}),
    ("expect_table_columns_to_match_set", {"column_set": ["i", "f"], "exact_match": False}),
    ("expect_table_columns_to_match_set", {"column_set": ["i", "zz"], "exact_match": False}),
    ("expect_table_columns_to_match_ordered_list", {"column_list": ["i", "f", "s", "u", "p", "q"]}),
    ("expect_table_columns_to_match_ordered_list", {"column_list": ["f", "i", "s", "u", "p", "q"]}),
    ("expect_column_min_to_be_between", {"column": "i", "min_value": 1, "max_value": 3}),
    ("expect_column_min_to_be_between", {"column": "p", "min_value": 5, "strict_min": True}),
    ("expect_column_max_to_be_between", {"column": "i", "max_value": 9}),
    ("expect_column_max_to_be_between", {"column": "p", "min_value": 0, "max_value": 39}),
    ("expect_column_mean_to_be_between", {"column": "i", "min_value": 0, "max_value": 10}),
    ("expect_column_mean_to_be_between", {"column": "p", "min_value": 12}),
    ("expect_column_median_to_be_between", {"column": "i", "min_value": 0, "max_value": 4}),
    ("expect_column_median_to_be_between", {"column": "p", "min_value": 7, "max_value": 20}),
    ("expect_column_sum_to_be_between", {"column": "i", "min_value": 0, "max_value": 40}),
    ("expect_column_sum_to_be_between", {"column": "p", "max_value": 780}),
    ("expect_column_stdev_to_be_between", {"column": "i", "min_value": 0, "max_value": 3}),
    ("expect_column_stdev_to_be_between", {"column": "p", "min_value": 5}),
    ("expect_column_distinct_values_to_be_in_set", {"column": "s", "value_set": ["a", "b"]}),
    ("expect_column_distinct_values_to_be_in_set", {"column": "s", "value_set": ["a", "b", "c"]}),
    ("expect_column_distinct_values_to_contain_set", {"column": "s", "value_set": ["a", "b"]}),
    ("expect_column_distinct_values_to_contain_set", {"column": "s", "value_set": []}),
    ("expect_column_distinct_values_to_equal_set", {"column": "s", "value_set": ["a", "b", "c"]}),
    ("expect_column_distinct_values_to_equal_set", {"column": "i", "value_set": [1, 2, 4, 7]}),
    (
        "expect_column_proportion_of_unique_values_to_be_between",
        {"column": "s", "min_value": 0.5, "max_value": 1},
    ),
    ("expect_column_proportion_of_unique_values_to_be_between", {"column": "u", "min_value": 1}),
    (
        "expect_column_unique_value_count_to_be_between",
        {"column": "s", "min_value": 1, "max_value": 3},
    ),
    ("expect_column_unique_value_count_to_be_between", {"column": "i", "min_value": 6}),
    ("expect_column_most_common_value_to_be_in_set", {"column": "s", "value_set": ["a"]}),
    ("expect_column_most_common_value_to_be_in_set", {"column": "i", "value_set": [2]}),
    (
        "expect_column_most_common_value_to_be_in_set",
        {"column": "q", "value_set": [1], "ties_okay": True},
    ),
    ("expect_column_most_common_value_to_be_in_set", {"column": "q", "value_set": [1]}),
]


@pytest.fixture(scope="module")
def answers() -> dict[str, tuple[dict, dict]]:
    """table name -> (GX verdicts, compiled verdicts), each by check name."""
    con = duckdb.connect()
    found = {}
    for table, sql in TABLES.items():
        con.execute(f"CREATE TABLE {table} AS {sql}")
        specs = [
            CheckSpec(f"raw.{table}", f"c{n}", True, expectation, kwargs)
            for n, (expectation, kwargs) in enumerate(CASES)
        ]
        oracle = {v.check: v for v in run_expectations(table, con.table(table).df(), specs)}
        verdicts, left_to_gx = compiled.run(con, table, specs, key=["i"])
        ours = {v.check: v for v in verdicts}
        # RE2 has no back-references: that one is GX's to judge, on pandas
        assert [s.kwargs.get("regex") for s in left_to_gx] == [r"^(\w)\1"]
        ours |= {v.check: v for v in run_expectations(table, con.table(table).df(), left_to_gx)}
        found[table] = (oracle, ours)
    return found


@pytest.mark.parametrize("table", TABLES)
@pytest.mark.parametrize("case", range(len(CASES)), ids=[c[0][7:] for c in CASES])
def test_compiled_expectation_agrees_with_gx(answers, table: str, case: int) -> None:
    expectation, kwargs = CASES[case]
    oracle, ours = (found[f"c{case}"] for found in answers[table])
    where = f"{expectation}({kwargs}) on {table}"
    if oracle.passed is None:  # GX itself cannot evaluate it here (an empty column, ...)
        assert ours.passed is not True, f"{where}: GX raised ({oracle.error}), we passed"
        return
    assert ours.error is None, f"{where}: {ours.error}"
    assert ours.passed == oracle.passed, f"{where}: GX {_short(oracle)}, ours {_short(ours)}"
    for field in ("unexpected_count", "observed_value", "element_count", "missing_count"):
        if field in oracle.metadata:
            assert _same(ours.metadata.get(field), oracle.metadata[field]), (
                f"{where}: {field}: GX {_short(oracle)}, ours {_short(ours)}"
            )


def _same(ours: object, theirs: object) -> bool:
    if isinstance(theirs, list | tuple) and isinstance(ours, list | tuple):
        if len(ours) != len(theirs):
            return False
        return all(_same(a, b) for a, b in zip(ours, theirs, strict=True))
    if isinstance(theirs, float | int) and isinstance(ours, float | int):
        if math.isnan(theirs) or math.isnan(ours):
            return math.isnan(theirs) and math.isnan(ours)
        return math.isclose(ours, theirs, rel_tol=1e-9, abs_tol=1e-12)
    return ours == theirs


def _short(verdict) -> str:  # noqa: ANN001
    return repr({k: v for k, v in verdict.metadata.items() if "sample" not in k})[:300]


def test_each_compiled_expectation_takes_gxs_arguments() -> None:
    import great_expectations as gx

    every_one = {"batch_id", "catch_exceptions", "condition_parser", "description", "id"}
    every_one |= {"meta", "notes", "rendered_content", "result_format", "row_condition"}
    every_one |= {"severity", "windows", "library_metadata"}
    classes = {name.lower(): getattr(gx.expectations, name) for name in dir(gx.expectations)}
    assert set(arguments.ARGUMENTS) == set(compiled.COMPILERS)
    for name, takes in arguments.ARGUMENTS.items():
        model = classes[name.replace("_", "")]
        assert set(takes) == set(model.__fields__) - every_one, name


BAD_ARGUMENTS = [
    ("expect_column_values_to_be_in_set", {"column": "s", "valu_set": ["a"]}),
    ("expect_column_values_to_be_in_set", {"column": "s"}),
    ("expect_column_values_to_be_between", {"column": "i", "min_value": 0, "mostly": 1.5}),
    ("expect_column_values_to_be_between", {"column": "i", "min_value": 500, "max_value": 10}),
    ("expect_column_values_to_be_between", {"column": "i"}),
    ("expect_column_value_lengths_to_equal", {"column": "u"}),
    ("expect_column_values_to_be_unique", {"column": "i", "mostyl": 0.9}),
]


@pytest.mark.parametrize("case", BAD_ARGUMENTS, ids=[f"{c[0][7:]}-{c[1]}" for c in BAD_ARGUMENTS])
def test_arguments_gx_refuses_are_an_error_not_a_verdict(case) -> None:  # noqa: ANN001
    """A typo or an impossible argument is the check's fault: an error naming it, never a
    count of unexpected rows (GX refuses them too)."""
    expectation, kwargs = case
    con = duckdb.connect()
    con.execute(f"CREATE TABLE messy AS {TABLES['messy']}")
    spec = CheckSpec("raw.messy", "c", True, expectation, kwargs)
    (oracle,) = run_expectations("messy", con.table("messy").df(), [spec])
    (ours,), left = compiled.run(con, "messy", [spec], key=["i"])
    assert oracle.passed is None and not left
    assert ours.passed is None and ours.error, ours


def test_a_row_condition_is_left_to_gx() -> None:
    con = duckdb.connect()
    con.execute(f"CREATE TABLE messy AS {TABLES['messy']}")
    kwargs = {"column": "s", "row_condition": "p>6", "condition_parser": "pandas"}
    spec = CheckSpec("raw.messy", "c", True, "expect_column_values_to_not_be_null", kwargs)
    assert compiled.run(con, "messy", [spec], key=["i"]) == ([], [spec])


def test_type_names_are_duckdbs_and_pandas_names_go_to_gx() -> None:
    con = duckdb.connect()
    con.execute(f"CREATE TABLE messy AS {TABLES['messy']}")
    duck = [
        ("expect_column_values_to_be_of_type", {"column": "i", "type_": "INT32"}),
        (
            "expect_column_values_to_be_in_type_list",
            {"column": "i", "type_list": ["BIGINT", "INT"]},
        ),
    ]
    panda = [
        ("expect_column_values_to_be_of_type", {"column": "i", "type_": "int64"}),
        ("expect_column_values_to_be_of_type", {"column": "p", "type_": "Int64"}),
        ("expect_column_values_to_be_in_type_list", {"column": "u", "type_list": ["object"]}),
    ]
    specs = [CheckSpec("raw.messy", f"c{n}", True, e, k) for n, (e, k) in enumerate(duck + panda)]
    verdicts, left = compiled.run(con, "messy", specs, key=["i"])
    assert [v.passed for v in verdicts] == [True, True]  # `i` is an INTEGER (alias INT32)
    assert [s.kwargs for s in left] == [k for _, k in panda]


def test_one_expectation_duckdb_cannot_run_is_its_own_error(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """An expression DuckDB refuses on this data (a text that is not a number, cast): that
    check is an error, the table's other checks still get their verdicts."""
    con = duckdb.connect()
    con.execute("CREATE TABLE odd AS SELECT range AS id, 'w' || range AS a_b FROM range(5)")
    broken = compiled.Plan(["max(CAST(a_b AS INTEGER))"], lambda v: (True, {}))
    monkeypatch.setitem(compiled.COMPILERS, "expect_broken", lambda spec, env: broken)
    monkeypatch.setitem(arguments.ARGUMENTS, "expect_broken", ())
    specs = [
        CheckSpec("raw.odd", "ids", True, "expect_column_values_to_not_be_null", {"column": "id"}),
        CheckSpec("raw.odd", "bad", True, "expect_broken", {}),
    ]
    verdicts, left = compiled.run(con, "odd", specs, key=["id"])
    assert not left
    assert verdicts[0].passed is True
    assert verdicts[1].passed is None and "Could not convert" in verdicts[1].error


def test_pairs_of_different_kinds() -> None:
    con = duckdb.connect()
    con.execute("CREATE TABLE odd AS SELECT range AS id, 'w' || range AS a_b FROM range(5)")
    pair = {"column_A": "id", "column_B": "a_b"}
    specs = [
        CheckSpec("raw.odd", "eq", True, "expect_column_pair_values_to_be_equal", pair),
        CheckSpec("raw.odd", "gt", True, "expect_column_pair_values_a_to_be_greater_than_b", pair),
    ]
    (equal, greater), _ = compiled.run(con, "odd", specs, key=["id"])
    assert equal.passed is False and equal.metadata["unexpected_count"] == 5  # as GX
    assert greater.passed is False and "cannot be compared" in greater.metadata["type_problem"]


def test_argument_kinds_and_quoted_times_are_the_checks_fault() -> None:
    con = duckdb.connect()
    con.execute("CREATE TABLE t AS SELECT 'Turbo-fan' AS engine, DATE '2007-11-11' AS day")
    cases = [
        ("expect_column_values_to_be_in_set", {"column": "engine", "value_set": "Turbo-fan"}),
        ("expect_column_values_to_be_in_set", {"column": ["engine"], "value_set": ["a"]}),
        ("expect_column_values_to_be_in_set", {"column": "day", "value_set": ["2007-11-11"]}),
        ("expect_column_distinct_values_to_be_in_set", {"column": "day", "value_set": ["x"]}),
    ]
    specs = [CheckSpec("raw.t", f"c{n}", True, e, k) for n, (e, k) in enumerate(cases)]
    verdicts, _ = compiled.run(con, "t", specs, key=[])
    errors = [v.error for v in verdicts]
    assert "`value_set` must be a list" in errors[0]
    assert "`column` must be a column name" in errors[1]
    assert all("without quotes" in e for e in errors[2:]), errors
