"""The arguments GX 1.x gives each expectation Groundwork compiles to SQL, and what GX
would refuse in them: a compiled check with a misspelt, missing or impossible argument is an
error naming it, never a count of unexpected rows. `tests/test_compiled_checks.py` holds this
list against GX's own models."""

from __future__ import annotations

from quality.specs import CheckSpec

_RANGE = ("min_value", "max_value", "strict_min", "strict_max")
_BETWEEN = ("column", *_RANGE)
ARGUMENTS: dict[str, tuple[str, ...]] = {
    **dict.fromkeys(
        [
            "expect_column_values_to_not_be_null",
            "expect_column_values_to_be_null",
            "expect_column_values_to_be_unique",
        ],
        ("column", "mostly"),
    ),
    "expect_compound_columns_to_be_unique": ("column_list", "mostly", "ignore_row_if"),
    **dict.fromkeys(
        ["expect_column_values_to_be_in_set", "expect_column_values_to_not_be_in_set"],
        ("column", "value_set", "mostly"),
    ),
    "expect_column_values_to_be_between": (*_BETWEEN, "mostly"),
    "expect_column_value_lengths_to_be_between": (*_BETWEEN, "mostly"),
    "expect_column_value_lengths_to_equal": ("column", "value", "mostly"),
    **dict.fromkeys(
        ["expect_column_values_to_match_regex", "expect_column_values_to_not_match_regex"],
        ("column", "regex", "mostly"),
    ),
    **dict.fromkeys(
        [
            "expect_column_values_to_match_like_pattern",
            "expect_column_values_to_not_match_like_pattern",
        ],
        ("column", "like_pattern", "escape", "mostly"),
    ),
    **dict.fromkeys(
        ["expect_column_values_to_be_increasing", "expect_column_values_to_be_decreasing"],
        ("column", "strictly", "mostly"),
    ),
    "expect_column_pair_values_a_to_be_greater_than_b": (
        "column_A",
        "column_B",
        "or_equal",
        "ignore_row_if",
        "mostly",
    ),
    "expect_column_pair_values_to_be_equal": ("column_A", "column_B", "ignore_row_if", "mostly"),
    "expect_column_values_to_be_of_type": ("column", "type_", "mostly"),
    "expect_column_values_to_be_in_type_list": ("column", "type_list", "mostly"),
    "expect_table_row_count_to_be_between": _RANGE,
    "expect_table_row_count_to_equal": ("value",),
    "expect_table_column_count_to_be_between": ("min_value", "max_value"),
    "expect_table_column_count_to_equal": ("value",),
    "expect_table_columns_to_match_set": ("column_set", "exact_match"),
    "expect_table_columns_to_match_ordered_list": ("column_list",),
    **dict.fromkeys(
        [
            "expect_column_min_to_be_between",
            "expect_column_max_to_be_between",
            "expect_column_mean_to_be_between",
            "expect_column_median_to_be_between",
            "expect_column_sum_to_be_between",
            "expect_column_stdev_to_be_between",
            "expect_column_unique_value_count_to_be_between",
            "expect_column_proportion_of_unique_values_to_be_between",
        ],
        _BETWEEN,
    ),
    **dict.fromkeys(
        [
            "expect_column_distinct_values_to_be_in_set",
            "expect_column_distinct_values_to_contain_set",
            "expect_column_distinct_values_to_equal_set",
        ],
        ("column", "value_set"),
    ),
    "expect_column_most_common_value_to_be_in_set": ("column", "value_set", "ties_okay"),
}
"The arguments GX 1.x gives each compiled expectation (besides those every one takes)."
_REQUIRED = {"column", "column_A", "column_B", "value_set", "value", "type_", "like_pattern"}
_REQUIRED |= {"regex"}  # GX's default for a match (`(?s).*`) passes anything: surely a mistake
_BOUNDED = ("expect_column_values_to_be_between", "expect_column_value_lengths_to_be_between")
_ANY = {"result_format", "catch_exceptions", "meta", "notes", "description", "id", "severity"}
"Arguments that say nothing about the verdict."
FOR_GX = ("row_condition", "condition_parser", "windows", "escape")
"Arguments the SQL does not follow: such an expectation is left to GX."


_KINDS = {"value_set": list, "column_list": list, "column_set": list, "type_list": list}
_KINDS |= {"column": str, "column_A": str, "column_B": str}


def arguments_problem(spec: CheckSpec) -> str | None:
    """What is wrong with a compiled expectation's arguments, as GX would refuse them."""
    takes = ARGUMENTS[spec.expectation]
    unknown = sorted(set(spec.kwargs) - set(takes) - _ANY - set(FOR_GX))
    if unknown:
        return f"unknown argument(s) {', '.join(unknown)}; it takes {', '.join(takes)}"
    for argument, kind in _KINDS.items():
        value = spec.kwargs.get(argument)
        if value is not None and not isinstance(value, kind):
            shown = "a list, e.g. [a, b]" if kind is list else "a column name"
            return f"`{argument}` must be {shown}, not {value!r}"
    required = _REQUIRED | ({"column_list"} if "compound" in spec.expectation else set())
    missing = [a for a in takes if a in required and spec.kwargs.get(a) is None]
    if missing:
        return f"give {', '.join(f'`{a}`' for a in missing)}"
    mostly = spec.kwargs.get("mostly", 1)
    if isinstance(mostly, bool) or not isinstance(mostly, int | float) or not 0 <= mostly <= 1:
        return f"`mostly` must be a number from 0 to 1, not {mostly!r}"
    low, high = spec.kwargs.get("min_value"), spec.kwargs.get("max_value")
    if spec.expectation in _BOUNDED and low is None and high is None:
        return "give `min_value`, `max_value` or both"
    try:
        if low is not None and high is not None and low > high:
            return "min_value cannot be greater than max_value"
    except TypeError:
        return f"min_value {low!r} and max_value {high!r} cannot be compared"
    return None
