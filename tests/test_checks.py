"""Checks on data nobody tidied: every declared check evaluates and is recorded, counts match
plain DuckDB SQL, a type problem is the data's fault and says so, references carry their
severity, and GX is imported only for an expectation the SQL compiler leaves to it."""

from __future__ import annotations

import datetime as dt
import json
import os
import subprocess
import sys
from pathlib import Path

import dagster as dg
import pytest

from hub.runner import dagster_instance, materialize
from tests.sources import Project

CARRIERS = ["UA", "AA", "B6", "DL", "EV", "MQ", "US", "WN", "VX", "FL", "AS", "9E", "F9", "HA"]


def flights_csv(rows: int) -> str:
    """Flights as a public export has them: `NA` for delays not known, tail numbers missing
    or odd, a destination no airport list knows, a few departures out of order."""
    lines = ["flight_id,carrier,flight,origin,dest,dep_delay,distance,tailnum,departed"]
    for i in range(rows):
        delay = "NA" if i % 17 == 0 else str((i * 7) % 120 - 20)
        tail = "" if i % 23 == 0 else ("XY" + str(i) if i % 31 == 0 else f"N{100 + i}UA")
        dest = "BQN" if i % 50 == 0 else ["IAH", "MIA", "ATL", "ORD"][i % 4]
        origin = ["EWR", "JFK", "LGA"][i % 3]
        minutes = i - 120 if i % 97 == 5 else i  # seven departures an hour back
        departed = f"2013-01-02 {minutes // 60 + 10:02}:{minutes % 60:02}:00"
        lines.append(
            f"{i},{CARRIERS[i % 14]},{i % 40},{origin},{dest},{delay},{200 + i % 2000},{tail},"
            f"{departed}"
        )
    return "\n".join(lines) + "\n"


AIRPORTS = "faa,name\nEWR,Newark\nJFK,Kennedy\nLGA,LaGuardia\nIAH,Houston\nMIA,Miami\n"
AIRPORTS += "ATL,Atlanta\nORD,Chicago\n"
ROUTES = "carrier,flight,note\n" + "".join(f"{CARRIERS[i % 14]},{i},r\n" for i in range(39))

CHECKS = [
    {"expect": "expect_column_values_to_be_unique", "kwargs": {"column": "flight_id"}},
    {"expect": "expect_column_values_to_not_be_null", "kwargs": {"column": "tailnum"}},
    {
        "expect": "expect_column_values_to_be_in_set",
        "kwargs": {"column": "origin", "value_set": ["EWR", "JFK", "LGA"]},
    },
    {
        "expect": "expect_column_values_to_be_between",
        "kwargs": {"column": "dep_delay", "min_value": -30, "max_value": 90},
        "severity": "warn",
    },
    {
        "expect": "expect_column_values_to_match_regex",
        "kwargs": {"column": "tailnum", "regex": "^N[0-9]+[A-Z]*$"},
        "severity": "warn",
    },
    {
        "expect": "expect_column_value_lengths_to_equal",
        "kwargs": {"column": "carrier", "value": 2},
    },
    {"expect": "expect_table_row_count_to_be_between", "kwargs": {"min_value": 100}},
    {
        "expect": "expect_column_mean_to_be_between",
        "kwargs": {"column": "distance", "min_value": 400, "max_value": 1500},
    },
    {
        "expect": "expect_column_distinct_values_to_be_in_set",
        "kwargs": {"column": "dest", "value_set": ["IAH", "MIA", "ATL", "ORD", "BQN"]},
    },
    {  # the export's nine columns: Groundwork's lineage columns are not the source's
        "expect": "expect_table_column_count_to_equal",
        "kwargs": {"value": 9},
        "name": "nine_columns",
    },
    {  # timestamps in the sample of unexpected values (Dagster metadata takes them as text)
        "expect": "expect_column_values_to_be_increasing",
        "kwargs": {"column": "departed"},
        "name": "departed_in_order",
        "severity": "warn",
    },
    {  # a date bound on a timestamp: the start of that day
        "expect": "expect_column_min_to_be_between",
        "kwargs": {"column": "departed", "min_value": dt.date(2013, 1, 2)},
        "name": "departed_since_jan_2",
    },
    {  # not compiled (GX only): runs through GX on the `flight` column alone
        "expect": "expect_column_values_to_be_dateutil_parseable",
        "kwargs": {"column": "dest", "mostly": 0.0},
        "name": "dest_dateutil",
        "severity": "warn",
    },
]


def flights_project(tmp_path: Path, monkeypatch: pytest.MonkeyPatch, **table: object) -> Project:
    monkeypatch.setenv("DAGSTER_HOME", str(tmp_path / ".dagster"))
    exports = tmp_path / "exports"
    exports.mkdir()
    (exports / "flights.csv").write_text(flights_csv(600))
    (exports / "airports.csv").write_text(AIRPORTS)
    (exports / "routes.csv").write_text(ROUTES)
    return Project(
        tmp_path,
        {
            "ops": {
                "kind": "files",
                "path": "exports",
                "tables": {
                    "flights": {
                        "pattern": "flights.csv",
                        "primary_key": "flight_id",
                        "references": {
                            "dest": {"target": "ops__airports.faa", "severity": "warn"},
                            "[carrier, flight]": "ops__routes.[carrier, flight]",
                        },
                        **table,
                    },
                    "airports": {"pattern": "airports.csv", "primary_key": "faa"},
                    "routes": {"pattern": "routes.csv", "primary_key": ["carrier", "flight"]},
                },
            }
        },
        checks={"raw.ops__flights": CHECKS},
    )


def latest(project: Project) -> dict[str, tuple[bool | None, bool, dict]]:
    rows = project.sql(
        "SELECT check_name, passed, blocking, details FROM meta.check_results "
        "WHERE table_name = 'raw.ops__flights' "
        "QUALIFY row_number() OVER (PARTITION BY check_name ORDER BY seq DESC) = 1"
    )
    return {
        name: (passed, blocking, json.loads(details)) for name, passed, blocking, details in rows
    }


@pytest.mark.slow  # runs Dagster
def test_every_check_evaluates_and_counts_match_plain_sql(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    project = flights_project(tmp_path, monkeypatch)
    report = materialize(project.root / "hub.yaml")

    results = latest(project)
    structural = {"row_count", "unique__flight_id", "not_null__flight_id", "rejects", "schema"}
    declared = {"not_null__tailnum", "in_set__origin", "between__dep_delay"}
    declared |= {"match_regex__tailnum", "column_value_lengths_to_equal__carrier"}
    declared |= {"table_row_count_to_be_between", "column_mean_to_be_between__distance"}
    declared |= {"column_distinct_values_to_be_in_set__dest", "dest_dateutil"}
    declared |= {"departed_in_order", "departed_since_jan_2", "nine_columns"}
    references = {"references__dest", "references__carrier__flight"}
    # the declared unique check on the key is the one Groundwork adds: kept once
    assert set(results) == structural | declared | references
    assert all(passed is not None for passed, _, _ in results.values()), results

    # a range on a text column: the data's type, named, never the check's arguments
    passed, blocking, details = results["between__dep_delay"]
    assert passed is False and blocking is False
    assert "column `dep_delay` is VARCHAR" in details["type_problem"]
    assert "declare its type in `columns:` or fix the source" in details["type_problem"]

    def count(where: str) -> int:
        return project.sql(f"SELECT count(*) FROM raw.ops__flights WHERE {where}")[0][0]

    assert results["not_null__tailnum"][2]["unexpected_count"] == count("tailnum IS NULL")
    regex = results["match_regex__tailnum"][2]
    assert regex["unexpected_count"] == count(
        "tailnum IS NOT NULL AND NOT regexp_matches(tailnum, '^N[0-9]+[A-Z]*$')"
    )
    assert regex["unexpected_keys"][0] == "31"  # the row's primary key, to find it
    orphans = results["references__dest"]
    assert orphans[0] is False and orphans[1] is False  # warn: reported, not blocking
    assert orphans[2]["unexpected_count"] == count("dest = 'BQN'")
    assert orphans[2]["unexpected_sample"][0] == "BQN" and orphans[2]["unexpected_keys"][0] == "0"
    composite = results["references__carrier__flight"]
    missing_routes = project.sql(
        "SELECT count(*) FROM raw.ops__flights f ANTI JOIN raw.ops__routes r "
        "USING (carrier, flight)"
    )[0][0]
    assert missing_routes > 0 and composite[:2] == (False, True)
    assert composite[2]["unexpected_count"] == missing_routes
    mean = project.sql("SELECT avg(distance) FROM raw.ops__flights")[0][0]
    assert results["column_mean_to_be_between__distance"][2]["observed_value"] == pytest.approx(
        mean
    )
    assert results["dest_dateutil"][0] is True
    backwards = project.sql(
        "SELECT count(*) FROM (SELECT departed < lag(departed) OVER (ORDER BY rowid) AS back "
        "FROM raw.ops__flights) WHERE back"
    )[0][0]
    assert backwards == 7 and results["departed_in_order"][2]["unexpected_count"] == backwards
    assert results["departed_since_jan_2"][0] is True
    assert results["nine_columns"][:1] == (True,)

    # Dagster recorded the same verdicts, the type problem as a failed check
    logged = dagster_instance(project.root).all_logs(
        report.run_id, of_type=dg.DagsterEventType.ASSET_CHECK_EVALUATION
    )
    evaluations = {
        e.check_name: e
        for e in (entry.dagster_event.event_specific_data for entry in logged)
        if e.asset_key == dg.AssetKey(["raw", "ops__flights"])
    }
    assert set(evaluations) == set(results)
    assert evaluations["between__dep_delay"].passed is False
    assert "VARCHAR" in evaluations["between__dep_delay"].metadata["type_problem"].value
    blocking_failures = {n for n, (p, b, _) in results.items() if b and not p}
    assert blocking_failures == {"not_null__tailnum", "references__carrier__flight"}
    assert not report.success


@pytest.mark.slow  # runs Dagster
def test_declared_type_and_null_text_make_the_range_check_count(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    project = flights_project(
        tmp_path,
        monkeypatch,
        null_values=["", "NA"],
        columns={"dep_delay": {"type": "INTEGER"}},
    )
    materialize(project.root / "hub.yaml")
    passed, _, details = latest(project)["between__dep_delay"]
    outside = project.sql(
        "SELECT count(*) FROM raw.ops__flights WHERE dep_delay NOT BETWEEN -30 AND 90"
    )[0][0]
    missing = project.sql("SELECT count(*) FROM raw.ops__flights WHERE dep_delay IS NULL")[0][0]
    assert outside > 0 and passed is False
    assert (details["unexpected_count"], details["missing_count"]) == (outside, missing)


@pytest.mark.slow  # starts processes that import and run Dagster
def test_great_expectations_is_imported_only_when_an_expectation_needs_it(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    project = flights_project(tmp_path, monkeypatch)
    script = (  # one process: a run that needs no GX, then one that does
        "import sys; from hub.runner import materialize; "
        f"config = {str(project.root / 'hub.yaml')!r}; "
        "materialize(config, ['raw/ops__airports']); "
        "print('great_expectations' in sys.modules); "
        "materialize(config, ['raw/ops__flights']); "
        "print('great_expectations' in sys.modules)"
    )
    out = subprocess.run(
        [sys.executable, "-c", script],
        capture_output=True,
        text=True,
        check=True,
        cwd=Path(__file__).parent.parent,
    ).stdout.split()
    assert out[-2:] == ["False", "True"], out


def test_references_compare_numbers_and_times_across_their_types() -> None:
    """A key loaded as DOUBLE still finds its BIGINT target, a naive UTC timestamp its zoned
    twin; only the rows really missing are orphans (counted here by hand: one each)."""
    import duckdb

    from quality.specs import CheckSpec
    from quality.sql_checks import run_sql_check

    con = duckdb.connect()
    con.execute("CREATE SCHEMA raw")
    con.execute(
        "CREATE TABLE raw.ops__weather AS SELECT h::BIGINT AS hour, "
        "TIMESTAMPTZ '2013-01-01 00:00:00+00' + to_hours(h) AS at FROM range(24) t(h)"
    )
    con.execute(
        "CREATE TABLE raw.ops__flights AS SELECT h::DOUBLE AS hour, "
        "TIMESTAMP '2013-01-01 00:00:00' + to_hours(h) AS at FROM range(25) t(h)"
    )
    for columns in (["hour"], ["at"], ["hour", "at"]):
        kwargs = {"columns": columns, "target": "raw.ops__weather", "target_columns": columns}
        spec = CheckSpec("raw.ops__flights", "fk", False, kwargs=kwargs, sql="references")
        verdict = run_sql_check(con, spec, ["hour"])
        assert verdict.metadata["unexpected_count"] == 1, (columns, verdict)
        assert verdict.metadata["unexpected_keys"] == ["24.0"]


@pytest.mark.slow  # runs Dagster
def test_a_failing_target_skips_only_the_references_to_it(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Airports with a repeated code fail their blocking key check: the flights' references
    to airports wait for a proven target, the flights' own checks still run."""
    project = flights_project(tmp_path, monkeypatch)
    (tmp_path / "exports" / "airports.csv").write_text(AIRPORTS + "EWR,Newark again\n")

    materialize(project.root / "hub.yaml")

    results = latest(project)
    assert "unique__flight_id" in results and "match_regex__tailnum" in results
    assert "references__dest" not in results  # skipped by Dagster: its target is unproven
    assert results["references__carrier__flight"][0] is False  # routes are fine: it ran
    batch = project.sql(
        "SELECT batch_id FROM meta.batches WHERE table_name = 'raw.ops__flights' "
        "ORDER BY seq DESC LIMIT 1"
    )[0][0]
    versions = project.sql(
        "SELECT DISTINCT data_version FROM meta.check_results "
        "WHERE table_name = 'raw.ops__flights' AND check_name = 'unique__flight_id'"
    )
    assert versions == [(batch,)]


@pytest.mark.slow  # runs Dagster
def test_column_names_with_spaces_load_mask_and_check(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Real exports name columns `Sample Number` or `Culmen Length (mm)`: they load, their
    PII is masked in the preview, and their checks run."""
    monkeypatch.setenv("DAGSTER_HOME", str(tmp_path / ".dagster"))
    (tmp_path / "exports").mkdir()
    (tmp_path / "exports" / "penguins.csv").write_text(
        "Sample Number,Culmen Length (mm),Contact Email\n1,39.1,ann@lab.example\n2,NA,\n"
    )
    table = {"primary_key": "Sample Number", "columns": {"Contact Email": {"pii": "email"}}}
    project = Project(
        tmp_path,
        {
            "lab": {
                "kind": "files",
                "path": "exports",
                "null_values": ["", "NA"],
                "tables": {"penguins": table},
            }
        },
        checks={
            "raw.lab__penguins": [
                {
                    "expect": "expect_column_values_to_be_between",
                    "kwargs": {"column": "Culmen Length (mm)", "min_value": 40},
                }
            ]
        },
        governance={"policies": {"agent": {"email": "redact"}, "analyst": {"email": "mask"}}},
    )

    report = materialize(project.root / "hub.yaml")

    assert set(report.failures) == {"raw__lab__penguins__checks"}  # the range failed, only
    verdicts = dict(
        project.sql(
            "SELECT check_name, passed FROM meta.check_results "
            "WHERE table_name = 'raw.lab__penguins'"
        )
    )
    assert verdicts["between__Culmen_Length__mm_"] is False
    assert verdicts["unique__Sample_Number"] is True
    shown = [
        str(m.value)
        for entry in dagster_instance(project.root).all_logs(
            report.run_id, of_type=dg.DagsterEventType.ASSET_MATERIALIZATION
        )
        for m in entry.dagster_event.event_specific_data.materialization.metadata.values()
    ]
    assert any("a***@lab.example" in text for text in shown)
    assert not any("ann@lab.example" in text for text in shown)


TIME_BOUNDS = """
import datetime as dt, sys
from pathlib import Path
from hub.store import Store
from quality import compiled
from quality.specs import CheckSpec

con = Store(Path(sys.argv[1])).connect(read_only=False)
con.execute("CREATE TABLE t AS SELECT TIMESTAMPTZ '2014-01-01 04:00:00+00' AS x")
specs = [
    CheckSpec("raw.t", "max", True, "expect_column_max_to_be_between",
              {"column": "x", "max_value": dt.date(2014, 1, 1)}),
    CheckSpec("raw.t", "values", True, "expect_column_values_to_be_between",
              {"column": "x", "max_value": dt.date(2014, 1, 1)}),
    CheckSpec("raw.t", "set", True, "expect_column_values_to_be_in_set",
              {"column": "x", "value_set": [dt.datetime(2014, 1, 1, 4)]}),
]
verdicts, _ = compiled.run(con, "t", specs, key=[])
print([(v.passed, v.metadata.get("observed_value")) for v in verdicts])
"""


def test_time_bounds_mean_the_same_in_every_time_zone(tmp_path: Path) -> None:
    """The store works in UTC: a date bound on a time with a zone, and a timestamp without
    one in a set, give one answer whatever the machine's time zone."""
    seen = set()
    for zone in ("UTC", "America/New_York", "Asia/Tokyo"):
        store = tmp_path / f"{zone.replace('/', '_')}.duckdb"
        env = {**os.environ, "TZ": zone}
        done = subprocess.run(
            [sys.executable, "-c", TIME_BOUNDS, str(store)],
            capture_output=True,
            text=True,
            env=env,
            check=True,
        )
        seen.add(done.stdout.strip())
    assert len(seen) == 1, seen
    assert seen.pop().startswith("[(False, "), "04:00Z is past the start of 2014-01-01 (UTC)"


def test_gx_gets_the_columns_a_row_condition_may_name() -> None:
    from assets.checks import _needed_columns
    from quality.specs import CheckSpec

    columns = ["tailnum", "year", "seats", "_hub_batch_id"]
    plain = CheckSpec(
        "raw.p", "a", True, "expect_column_values_to_be_dateutil_parseable", {"column": "year"}
    )
    condition = {"column": "seats", "row_condition": "year > 2000", "condition_parser": "pandas"}
    conditioned = CheckSpec("raw.p", "b", True, "expect_column_values_to_be_between", condition)
    assert _needed_columns([plain], columns) == ["year"]
    assert _needed_columns([conditioned], columns) == ["tailnum", "year", "seats"]
