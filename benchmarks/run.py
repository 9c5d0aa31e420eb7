"""Benchmarks: Groundwork's paths against a baseline measured in the same run.

    .venv/bin/python benchmarks/run.py [--scale 1.0] [--only csv,postgres,...]

Each benchmark runs in its own process (its peak memory is that process's):
- csv: 5M rows with declared types and `NA` nulls, `hub.load` against DuckDB's `CREATE TABLE
  ... AS SELECT * FROM read_csv(...)` with the same options;
- postgres / mariadb: 1M rows, against DuckDB's scanner (the limit) and pandas.read_sql;
- http: 100,000 records at 1,000 a page, against a bare httpx loop plus DuckDB read_json;
- incremental: 1% new or changed rows (PostgreSQL, merge on a cursor) against the full load;
- checks: ten common expectations, Groundwork's check step against one hand-written DuckDB
  statement and against GX on pandas (in its own process: its peak memory is in the label);
- small_run: `hub run --select` of a 12-row table with its checks, the whole command;
- ui_run: the demo graph launched from the Dagster UI (`hub ui`, GraphQL) against `hub run`.
Ratios above 1 mean Groundwork is slower (the first line of a benchmark is Groundwork's; a
peak shown on a baseline's line is that baseline's own process). Nothing here asserts a
threshold.
"""

from __future__ import annotations

import argparse
import json
import resource
import subprocess
import sys
import tempfile
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from benchmarks import checks, sources, ui  # noqa: E402

SIZES = {"csv": 5_000_000, "postgres": 1_000_000, "mariadb": 1_000_000, "http": 100_000}
SIZES |= {"incremental": 1_000_000, "checks": 5_000_000, "small_run": 12, "ui_run": 12}


RUNS = {
    "csv": sources.csv,
    "postgres": sources.sql,
    "mariadb": lambda root, rows: sources.sql(root, rows, sources.MARIADB),
    "http": sources.http,
    "incremental": sources.incremental,
    "checks": checks.checks,
    "small_run": checks.small_run,
    "ui_run": ui.ui_run,
}


def one(name: str, rows: int, repeat: int) -> None:
    """Run one benchmark here (`repeat` times, keeping each label's best) and print its
    seconds and this process's peak memory. pandas is imported first: every Dagster step
    process has it, and DuckDB imports it on first use."""
    import pandas  # noqa: F401

    best: dict[str, float] = {}
    peaks: dict[str, int] = {}
    for _ in range(repeat):
        with tempfile.TemporaryDirectory() as folder:
            for label, measured in RUNS[name](Path(folder), rows).items():
                if isinstance(measured, dict):  # measured in a process of its own
                    peaks[label] = max(peaks.get(label, 0), measured["peak_mib"])
                    measured = measured["seconds"]
                best[label] = min(measured, best.get(label, measured))
    peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    print(json.dumps({"seconds": best, "peak_mib": round(peak), "peaks": peaks}))


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
        rows = max(min(1000, SIZES[name]), int(SIZES[name] * args.scale))
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
            peak = measured["peaks"].get(label, "")
            print(f"{'':<13}{'':>11}  {label:<34}{seconds:>9.2f}{ours / seconds:>7.2f}{peak:>10}")


if __name__ == "__main__":
    main()
