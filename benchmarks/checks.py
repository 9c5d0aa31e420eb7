"""Checks benchmarks: ten common expectations on one table, and a small run whole.

`checks`: Groundwork's check step (every expectation compiled into one DuckDB query, the
verdicts recorded) against one hand-written DuckDB statement over the same ten rules, and
against GX 1.x on pandas (the frame fetched from DuckDB, then validated), which runs in a
process of its own so its peak memory is its own. The DuckDB paths are timed best of three.
`small_run`: `hub run --select` of a 12-row table with its checks, the whole command,
against a one-asset, one-check Dagster run in an instance on disk (the floor of any command
that runs Dagster and records the run) and against `python -c "import dagster"`.
"""

from __future__ import annotations

import json
import os
import resource
import subprocess
import sys
from collections.abc import Callable
from pathlib import Path
from types import SimpleNamespace
from typing import Any

import duckdb
import yaml

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))  # run as a script for GX

from benchmarks.sources import timed  # noqa: E402

REGEX = r"^[a-z0-9.]+@[a-z]+\.[a-z]{2,}$"
STATUSES = ["paid", "open", "overdue"]
TEN = [
    ("expect_column_values_to_not_be_null", {"column": "invoice_id"}),
    ("expect_column_values_to_be_unique", {"column": "invoice_id"}),
    ("expect_column_values_to_not_be_null", {"column": "email"}),
    ("expect_column_values_to_match_regex", {"column": "email", "regex": REGEX}),
    ("expect_column_values_to_be_in_set", {"column": "status", "value_set": STATUSES}),
    ("expect_column_values_to_be_between", {"column": "amount", "min_value": 0, "max_value": 999}),
    ("expect_column_value_lengths_to_equal", {"column": "currency", "value": 3}),
    ("expect_table_row_count_to_be_between", {"min_value": 1}),
    ("expect_column_mean_to_be_between", {"column": "amount", "min_value": 0, "max_value": 1000}),
    ("expect_column_max_to_be_between", {"column": "amount", "max_value": 1000}),
]
HAND_WRITTEN = f"""
SELECT count(*) FILTER (WHERE invoice_id IS NULL),
       count(invoice_id) - count(DISTINCT invoice_id),
       count(*) FILTER (WHERE email IS NULL),
       count(*) FILTER (WHERE NOT regexp_matches(email, '{REGEX}')),
       count(*) FILTER (WHERE status NOT IN ('paid', 'open', 'overdue')),
       count(*) FILTER (WHERE amount NOT BETWEEN 0 AND 999),
       count(*) FILTER (WHERE length(currency) <> 3),
       count(*), avg(amount), max(amount)
FROM raw.billing__invoices"""


def invoices(root: Path, rows: int, *, dirty: bool = False) -> Path:
    """A project whose `raw.billing__invoices` holds `rows` invoices, loaded through
    `hub.load` from Parquet; `dirty`: some e-mails missing or malformed, a few amounts out of
    range (three rules fail)."""
    from hub.config import load_config
    from hub.load import load_table
    from hub.store import Store

    exports = root / "exports"
    exports.mkdir(parents=True)
    defects = 1 if dirty else 0
    duckdb.execute(
        f"COPY (SELECT i AS invoice_id, CASE WHEN {defects} = 1 AND i % 97 = 0 THEN NULL "
        f"WHEN {defects} = 1 AND i % 89 = 0 THEN 'bad address' "
        f"ELSE 'client' || (i % 9973) || '@example.com' END AS email, "
        f"['paid', 'open', 'overdue'][1 + i % 3] AS status, "
        f"(i * 7919) % {1000 + 3 * defects} AS amount, 'EUR' AS currency "
        f"FROM range({rows}) t(i)) TO '{exports / 'invoices.parquet'}'"
    )
    checks = [{"expect": e, "kwargs": k, "name": f"rule_{n}"} for n, (e, k) in enumerate(TEN)]
    table = {"pattern": "*.parquet", "primary_key": "invoice_id"}
    document = {
        "sources": {"billing": {"kind": "files", "path": "exports", "tables": {"invoices": table}}},
        "checks": {"raw.billing__invoices": checks},
    }
    (root / "hub.yaml").write_text(yaml.safe_dump(document))
    config = load_config(root / "hub.yaml")
    load_table(config, Store.of(config), "billing", "invoices")
    return root / "hub.yaml"


def checks(root: Path, rows: int) -> dict[str, float | dict[str, float]]:
    """Clean data (every rule passes: one query) and dirty data (three rules fail: a second
    query samples their rows)."""
    from assets.checks import evaluate
    from hub.config import load_config
    from hub.store import Store
    from quality import results
    from quality.specs import table_checks

    def check_step(path: Path) -> Callable[[], None]:
        config = load_config(path)
        store = Store.of(config)
        ref = "raw.billing__invoices"
        ten = [s for s in table_checks(config)[ref] if s.name.startswith("rule_")]

        def step() -> None:
            verdicts, versions = evaluate(SimpleNamespace(config=config, store=store), ref, ten)
            assert all(v.passed is not None for v in verdicts), verdicts
            with store.transaction() as con:
                results.record(con, ten, verdicts, versions=versions, run_id=None)

        return step

    clean = invoices(root / "clean", rows)
    dirty = invoices(root / "dirty", rows, dirty=True)
    with Store.of(load_config(clean)).reader() as con:
        hand = best_of(3, lambda: con.execute(HAND_WRITTEN).fetchall())
    ours = best_of(3, check_step(clean))
    failing = best_of(3, check_step(dirty))
    gx = subprocess.run(
        [sys.executable, __file__, str(clean)], capture_output=True, text=True, check=True
    )
    pandas_route = json.loads(gx.stdout.strip().splitlines()[-1])
    return {
        "check step (one DuckDB query)": ours,
        "one hand-written DuckDB statement": hand,
        "GX on pandas": pandas_route,
        "check step, 3 rules failing": failing,
    }


def best_of(times: int, fn: Callable[[], Any]) -> float:
    return min(timed(fn) for _ in range(times))


def gx_on_pandas(path: Path) -> None:
    """The pandas route, in this process: the frame from DuckDB, then GX (imported first, so
    its import is not measured)."""
    from hub.config import load_config
    from hub.store import Store
    from quality.gx_bridge import run_expectations
    from quality.specs import table_checks

    config = load_config(path)
    ten = [s for s in table_checks(config)["raw.billing__invoices"] if s.name.startswith("rule_")]
    import great_expectations  # noqa: F401

    def validate() -> None:
        with Store.of(config).reader() as con:
            frame = con.execute("SELECT * FROM raw.billing__invoices").df()
        verdicts = run_expectations("raw.billing__invoices", frame, ten)
        assert all(v.passed is not None for v in verdicts), verdicts

    seconds = timed(validate)
    peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    print(json.dumps({"seconds": seconds, "peak_mib": round(peak)}))


TRIVIAL_RUN = """
import dagster as dg

@dg.asset
def one():
    return dg.MaterializeResult(metadata={"rows": 1})

@dg.asset_check(asset=one, blocking=True)
def one_is_there():
    return dg.AssetCheckResult(passed=True)

defs = dg.Definitions(assets=[one], asset_checks=[one_is_there])
job = defs.resolve_implicit_global_asset_job_def()
assert job.execute_in_process(instance=dg.DagsterInstance.get()).success
"""


def small_run(root: Path, rows: int) -> dict[str, float]:
    """The demo's CRM clients (12 rows, a SQLite table) loaded and checked by the CLI, whole
    command; the floors: importing Dagster, and a one-asset, one-check Dagster run recorded
    in a Dagster instance on disk as `hub run` records its runs."""
    from hub.demo.generate import generate

    hub_cli = str(Path(sys.executable).with_name("hub"))
    demo = Path(__file__).resolve().parent.parent / "hub" / "demo"
    (root / "hub.yaml").write_text((demo / "hub.yaml").read_text())
    generate(root / "demo")
    home = root / ".dagster"
    home.mkdir()
    (home / "dagster.yaml").touch()
    env = {**os.environ, "DAGSTER_HOME": str(home)}

    def command(*args: str) -> float:
        """The second run's time: the first one creates the instance's databases."""
        run = lambda: subprocess.run(args, cwd=root, env=env, capture_output=True, check=True)  # noqa: E731
        run()
        return timed(run)

    return {
        "hub run --select raw/crm__clients": command(
            hub_cli, "run", "--select", "raw/crm__clients"
        ),
        "a one-asset Dagster run (floor)": command(sys.executable, "-c", TRIVIAL_RUN),
        'python -c "import dagster"': command(sys.executable, "-c", "import dagster"),
    }


if __name__ == "__main__":
    gx_on_pandas(Path(sys.argv[1]))
