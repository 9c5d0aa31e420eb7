"""The GX bridge: pass, fail with evidence, and an expectation that raised is an error."""

from __future__ import annotations

import pandas as pd
import pytest

from quality.gx_bridge import run_expectations
from quality.specs import CheckSpec


@pytest.fixture(scope="module")
def verdicts():
    frame = pd.DataFrame({"id": [1, 2, 2], "email": ["a@b.io", "nope", "c@d.io"]})
    specs = [
        CheckSpec(
            "raw.t", "unique__id", True, "expect_column_values_to_be_unique", {"column": "id"}
        ),
        CheckSpec("raw.t", "rows", True, "expect_table_row_count_to_be_between", {"min_value": 1}),
        CheckSpec(
            "raw.t",
            "email",
            False,
            "expect_column_values_to_match_regex",
            {"column": "email", "regex": r"^[^@]+@[^@]+\.[a-z]+$"},
        ),
        CheckSpec(
            "raw.t",
            "ghost",
            True,
            "expect_column_values_to_not_be_null",
            {"column": "no_such_column"},
        ),
        CheckSpec("raw.t", "typo", True, "expect_colum_values_to_exist", {}),
    ]
    return {v.check: v for v in run_expectations("raw.t", frame, specs)}


def test_failures_carry_counts_and_a_sample(verdicts) -> None:
    assert verdicts["unique__id"].passed is False
    assert verdicts["unique__id"].metadata["unexpected_count"] == 2
    assert verdicts["email"].metadata["unexpected_sample"] == ["nope"]


def test_passing_check(verdicts) -> None:
    assert verdicts["rows"].passed is True


def test_an_expectation_that_raised_is_an_error_not_a_verdict(verdicts) -> None:
    assert verdicts["ghost"].passed is None
    assert "no_such_column" in verdicts["ghost"].error
    assert verdicts["typo"].passed is None
    assert "expect_colum_values_to_exist" in verdicts["typo"].error
