"""Benchmarks: Groundwork's paths against a baseline measured in the same run.

    .venv/bin/python benchmarks/run.py [--rows N]

1. Loading a CSV file: `hub.load.load_table` (files connector -> Arrow -> one transaction with
   lineage, rejects, batch and audit) against DuckDB's own `read_csv` into a table.
2. Checking a table: the GX bridge on pandas (four expectations) against the same four rules
   as one hand-written DuckDB SQL pass.
Ratios above 1 mean Groundwork is slower than the baseline. Nothing here asserts a threshold.
"""

from __future__ import annotations

import argparse
import tempfile
import time
from pathlib import Path

import duckdb

from hub.config import HubConfig
from hub.load import load_table
from hub.store import Store
from quality.gx_bridge import run_expectations
from quality.specs import CheckSpec


def timed(fn) -> float:  # noqa: ANN001
    started = time.perf_counter()
    fn()
    return time.perf_counter() - started


def write_csv(folder: Path, rows: int) -> Path:
    folder.mkdir(parents=True, exist_ok=True)
    path = folder / "events.csv"
    duckdb.sql(
        f"COPY (SELECT i AS event_id, 'user' || (i % 9973) || '@example.com' AS email, "
        f"i % 7 AS kind, round(random() * 1000, 2) AS amount, "
        f"DATE '2026-01-01' + (i % 300)::INT AS day FROM range({rows}) t(i)) "
        f"TO '{path}' (HEADER)"
    )
    return path


def bench_load(root: Path, rows: int) -> tuple[float, float]:
    csv = write_csv(root / "files", rows)
    baseline = timed(
        lambda: duckdb.connect(str(root / "baseline.duckdb")).execute(
            f"CREATE TABLE events AS SELECT * FROM read_csv('{csv}')"
        )
    )
    config = HubConfig.model_validate(
        {
            "sources": {
                "bench": {
                    "kind": "files",
                    "path": "files",
                    "tables": {"events": {"primary_key": ["event_id"]}},
                }
            },
            "root": root,
        }
    )
    store = Store(root / "hub.duckdb")
    ours = timed(lambda: load_table(config, store, "bench", "events"))
    return ours, baseline


def bench_checks(root: Path) -> tuple[float, float]:
    path = str(root / "baseline.duckdb")
    frame = duckdb.connect(path, read_only=True).execute("SELECT * FROM events").df()
    specs = [
        CheckSpec(
            "raw.e", "unique", True, "expect_column_values_to_be_unique", {"column": "event_id"}
        ),
        CheckSpec(
            "raw.e", "not_null", True, "expect_column_values_to_not_be_null", {"column": "event_id"}
        ),
        CheckSpec(
            "raw.e",
            "email",
            True,
            "expect_column_values_to_match_regex",
            {"column": "email", "regex": r"^[^@]+@[^@]+\.[a-z]+$"},
        ),
        CheckSpec(
            "raw.e",
            "amount",
            True,
            "expect_column_values_to_be_between",
            {"column": "amount", "min_value": 0, "max_value": 1000},
        ),
    ]
    run_expectations("warm-up", frame.head(10), specs)  # GX import is paid once, not measured
    ours = timed(lambda: run_expectations("raw.e", frame, specs))
    con = duckdb.connect(path, read_only=True)
    baseline = timed(
        lambda: con.execute(
            "SELECT count(*) - count(DISTINCT event_id), count(*) - count(event_id), "
            "count(*) FILTER (WHERE NOT regexp_matches(email, '^[^@]+@[^@]+\\.[a-z]+$')), "
            "count(*) FILTER (WHERE amount NOT BETWEEN 0 AND 1000) FROM events"
        ).fetchall()
    )
    return ours, baseline


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rows", type=int, default=1_000_000)
    rows = parser.parse_args().rows
    with tempfile.TemporaryDirectory() as folder:
        root = Path(folder)
        load = bench_load(root, rows)
        checks = bench_checks(root)
    print(f"{rows:,} rows")
    print(f"{'what':<34}{'groundwork s':>14}{'baseline s':>12}{'ratio':>8}")
    for name, (ours, baseline) in (
        ("CSV load vs DuckDB read_csv", load),
        ("4 checks: GX/pandas vs DuckDB SQL", checks),
    ):
        print(f"{name:<34}{ours:>14.2f}{baseline:>12.2f}{ours / baseline:>8.1f}")


if __name__ == "__main__":
    main()
