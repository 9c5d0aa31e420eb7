"""Benchmarks: Groundwork's paths against a baseline measured in the same run.

    .venv/bin/python benchmarks/run.py [--scale 1.0] [--only csv,postgres,...]

Each benchmark runs in its own process (its peak memory is that process's):
- csv: 5M rows with declared types and `NA` nulls, `hub.load` against DuckDB's `CREATE TABLE
  ... AS SELECT * FROM read_csv(...)` with the same options;
- postgres / mariadb: 1M rows, against DuckDB's scanner (the limit) and pandas.read_sql;
- http: 100,000 records at 1,000 a page, against a bare httpx loop plus DuckDB read_json;
- incremental: 1% new or changed rows (PostgreSQL, merge on a cursor) against the full load;
- checks: four checks through the GX bridge on pandas against one DuckDB SQL pass.
Ratios above 1 mean Groundwork is slower. Nothing here asserts a threshold.
"""

from __future__ import annotations

import argparse
import json
import resource
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import duckdb

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from benchmarks import sources  # noqa: E402
from quality.gx_bridge import run_expectations  # noqa: E402
from quality.specs import CheckSpec  # noqa: E402

SIZES = {"csv": 5_000_000, "postgres": 1_000_000, "mariadb": 1_000_000, "http": 100_000}
SIZES |= {"incremental": 1_000_000, "checks": 1_000_000}


def timed(fn) -> float:  # noqa: ANN001
    started = time.perf_counter()
    fn()
    return time.perf_counter() - started


def bench_checks(root: Path, rows: int) -> dict[str, float]:
    path = str(root / "baseline.duckdb")
    duckdb.connect(path).execute(
        f"CREATE TABLE events AS SELECT i AS event_id, 'user' || (i % 9973) || '@example.com' "
        f"AS email, round(random() * 1000, 2) AS amount FROM range({rows}) t(i)"
    ).close()
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
    return {"GX bridge on pandas": ours, "DuckDB SQL pass": baseline}


RUNS = {
    "csv": sources.csv,
    "postgres": sources.sql,
    "mariadb": lambda root, rows: sources.sql(root, rows, sources.MARIADB),
    "http": sources.http,
    "incremental": sources.incremental,
    "checks": bench_checks,
}


def one(name: str, rows: int, repeat: int) -> None:
    """Run one benchmark here (`repeat` times, keeping each label's best) and print its
    seconds and this process's peak memory. pandas is imported first: every Dagster step
    process has it, and DuckDB imports it on first use."""
    import pandas  # noqa: F401

    best: dict[str, float] = {}
    for _ in range(repeat):
        with tempfile.TemporaryDirectory() as folder:
            for label, seconds in RUNS[name](Path(folder), rows).items():
                best[label] = min(seconds, best.get(label, seconds))
    peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    print(json.dumps({"seconds": best, "peak_mib": round(peak)}))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--scale", type=float, default=1.0, help="Multiply every size by this.")
    parser.add_argument("--only", default=",".join(RUNS), help="Comma-separated benchmarks.")
    parser.add_argument("--repeat", type=int, default=2, help="Runs per benchmark; best kept.")
    parser.add_argument("--one", help=argparse.SUPPRESS)
    parser.add_argument("--rows", type=int, help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.one:
        one(args.one, args.rows, args.repeat)
        return
    print(f"{'benchmark':<13}{'rows':>11}  {'what':<34}{'seconds':>9}{'ratio':>7}{'peak MiB':>10}")
    for name in args.only.split(","):
        rows = max(1000, int(SIZES[name] * args.scale))
        done = subprocess.run(
            [sys.executable, __file__, "--one", name, "--rows", str(rows)]
            + ["--repeat", str(args.repeat)],
            capture_output=True,
            text=True,
        )
        if done.returncode != 0:
            last = (done.stderr.strip().splitlines() or ["(no output)"])[-1]
            print(f"{name:<13}{rows:>11,}  failed: {last}")
            continue
        measured = json.loads(done.stdout.strip().splitlines()[-1])
        (ours_label, ours), *baselines = measured["seconds"].items()
        print(
            f"{name:<13}{rows:>11,}  {ours_label:<34}{ours:>9.2f}{'':>7}{measured['peak_mib']:>10}"
        )
        for label, seconds in baselines:
            print(f"{'':<13}{'':>11}  {label:<34}{seconds:>9.2f}{ours / seconds:>7.2f}")


if __name__ == "__main__":
    main()
