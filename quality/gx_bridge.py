"""Run expectation checks with Great Expectations 1.x and turn results into verdicts.

dagster-ge does not support GX 1.x, so this is the small bridge: one ephemeral GX context,
one pandas batch per table, one suite per table, one `Verdict` per expectation. An
expectation that *raised* (unknown column, bad argument) is an error, never a data failure
and never a pass: its verdict has `passed=None` and the check step fails loudly.
GX is imported here, inside the function, so `import hub` and `dagster dev` stay fast.
"""

from __future__ import annotations

import os
from typing import TYPE_CHECKING, Any

from quality.specs import SAMPLE_SIZE, CheckSpec, Verdict

if TYPE_CHECKING:
    import pandas as pd


def run_expectations(table: str, frame: pd.DataFrame, specs: list[CheckSpec]) -> list[Verdict]:
    if not specs:
        return []
    os.environ.setdefault("GX_ANALYTICS_ENABLED", "False")
    import great_expectations as gx
    from great_expectations.data_context.types.base import ProgressBarsConfig
    from great_expectations.exceptions import GreatExpectationsError
    from great_expectations.expectations.registry import get_expectation_impl

    context = gx.get_context(mode="ephemeral")
    context.variables.progress_bars = ProgressBarsConfig(globally=False)
    batch_definition = (
        context.data_sources.add_pandas("hub")
        .add_dataframe_asset(table)
        .add_batch_definition_whole_dataframe("current")
    )
    suite = gx.ExpectationSuite(name=table)
    verdicts: dict[str, Verdict] = {}
    for spec in specs:
        try:
            expectation_class = get_expectation_impl(spec.expectation)
            suite.add_expectation(expectation_class(**spec.kwargs, meta={"check": spec.name}))
        except (GreatExpectationsError, ValueError, TypeError, KeyError) as exc:
            verdicts[spec.name] = Verdict(
                spec.name, None, error=f"{spec.expectation}: cannot be configured: {exc}"
            )
    batch = batch_definition.get_batch(batch_parameters={"dataframe": frame})
    result = batch.validate(
        suite, result_format={"result_format": "SUMMARY", "partial_unexpected_count": SAMPLE_SIZE}
    )
    answers = {}
    for item in result.results:
        info = item.exception_info or {}
        raised = info.get("raised_exception") or any(
            isinstance(v, dict) and v.get("raised_exception") for v in info.values()
        )
        if raised:
            answers[item.expectation_config.meta["check"]] = (None, {}, _exception_message(info))
        else:
            answers[item.expectation_config.meta["check"]] = (
                bool(item.success),
                _metadata(dict(item.result)),
                None,
            )
    for spec in specs:
        if spec.name not in verdicts:
            # a suite keeps one of two equal expectations: both checks get its answer
            twin = next(s.name for s in specs if s.name in answers and _same_rule(s, spec))
            passed, metadata, error = answers[twin]
            verdicts[spec.name] = Verdict(spec.name, passed, dict(metadata), error)
    return [verdicts[s.name] for s in specs]


def _same_rule(a: CheckSpec, b: CheckSpec) -> bool:
    return a.expectation == b.expectation and a.kwargs == b.kwargs


def _metadata(result: dict[str, Any]) -> dict[str, Any]:
    keep = (
        "element_count",
        "unexpected_count",
        "unexpected_percent",
        "observed_value",
        "missing_count",
    )
    metadata = {k: result[k] for k in keep if k in result and result[k] is not None}
    if result.get("partial_unexpected_list"):
        metadata["unexpected_sample"] = [_shown(v) for v in result["partial_unexpected_list"]]
    return metadata


def _shown(value: Any) -> str:
    """A sampled value as text; numpy scalars (alone or in a pair) as plain Python values."""
    if isinstance(value, tuple | list):
        return "(" + ", ".join(_shown(v) for v in value) + ")"
    return str(value.item() if hasattr(value, "item") else value)


def _exception_message(info: dict[str, Any]) -> str:
    if info.get("exception_message"):
        return str(info["exception_message"])
    for value in info.values():
        if isinstance(value, dict) and value.get("exception_message"):
            return str(value["exception_message"])
    return "the expectation raised an exception"
