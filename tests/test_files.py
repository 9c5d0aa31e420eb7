"""Files read right: declared types and null texts, types that do not depend on row order,
every bad line kept with its reason, and each kind of broken export named with its fix."""

from __future__ import annotations

import gzip
import json
from pathlib import Path

import duckdb
import pytest

from hub.load import LoadError
from tests.sources import Project

HEADER = "id,dep_time,carrier,time_hour"


def flights(rows: int, *, missing_first: bool) -> str:
    """A flights export where some departure times are `NA`, at the start or the end."""
    good = [f"{i},{500 + i % 900},UA,2013-01-01 0{i % 10}:00:00" for i in range(rows)]
    missing = [f"{rows + i},NA,B6,NA" for i in range(25)]
    lines = missing + good if missing_first else good + missing
    return "\n".join([HEADER, *lines]) + "\n"


def files_project(tmp_path: Path, table: dict | None = None, **source: object) -> Project:
    return Project(
        tmp_path,
        {
            "ops": {
                "kind": "files",
                "path": "exports",
                **source,
                "tables": {"flights": {"pattern": "flights*", **(table or {})}},
            }
        },
    )


def export(tmp_path: Path, name: str, text: str | bytes) -> Path:
    folder = tmp_path / "exports"
    folder.mkdir(exist_ok=True)
    path = folder / name
    path.write_bytes(text if isinstance(text, bytes) else text.encode())
    return path


@pytest.mark.parametrize("missing_first", [False, True])
def test_types_and_rows_do_not_depend_on_row_order(tmp_path: Path, missing_first: bool) -> None:
    """30,000 good rows and 25 `NA` rows: sorted either way, the same types, no row lost."""
    export(tmp_path, "flights.csv", flights(30_000, missing_first=missing_first))
    project = files_project(tmp_path, null_values=["", "NA"])

    result = project.load("ops", "flights")

    assert (result.read, result.written, result.rejected) == (30_025, 30_025, 0)
    assert project.types("raw.ops__flights") == {
        "id": "BIGINT",
        "dep_time": "BIGINT",
        "carrier": "VARCHAR",
        "time_hour": "TIMESTAMP",
    }
    [(nulls, total)] = project.sql(
        "SELECT count(*) FILTER (WHERE dep_time IS NULL), count(*) FROM raw.ops__flights"
    )
    plain = duckdb.sql(
        f"SELECT count(*) FILTER (WHERE dep_time IS NULL), count(*) FROM read_csv("
        f"'{tmp_path / 'exports' / 'flights.csv'}', nullstr = ['', 'NA'], sample_size = -1)"
    ).fetchone()
    assert (nulls, total) == plain == (25, 30_025)


def test_declared_types_win_and_a_value_that_does_not_fit_is_a_reject(tmp_path: Path) -> None:
    export(
        tmp_path,
        "flights.csv",
        f"{HEADER}\n1,517,UA,01/01/2013 05:00\n2,half past,UA,01/01/2013 06:00\n"
        "3,NA,B6,NA\n4,600,AA,13/13/2013 07:00\n",
    )
    columns = {
        "dep_time": {"type": "INTEGER"},
        "time_hour": {"type": "TIMESTAMP", "format": "%m/%d/%Y %H:%M"},
    }
    project = files_project(tmp_path, {"columns": columns}, null_values=["", "NA"])

    result = project.load("ops", "flights")

    assert project.types("raw.ops__flights")["dep_time"] == "INTEGER"
    assert project.types("raw.ops__flights")["time_hour"] == "TIMESTAMP"
    assert project.sql("SELECT id, dep_time FROM raw.ops__flights ORDER BY id") == [
        (1, 517),
        (3, None),
    ]
    assert result.rejected == 2
    rejects = project.sql(
        "SELECT location, column_name, reason, record FROM rejects.ops__flights ORDER BY 1"
    )
    assert [(r[0], r[1]) for r in rejects] == [
        ("flights.csv line 3", "dep_time"),
        ("flights.csv line 5", "time_hour"),
    ]
    assert "'half past'" in rejects[0][2].replace('"', "'") and rejects[0][3] == (
        "2,half past,UA,01/01/2013 06:00"
    )


def test_rejects_block_by_default_and_a_share_can_be_allowed(tmp_path: Path) -> None:
    from hub.config import load_config
    from quality.specs import table_checks

    project = files_project(tmp_path)
    checks = table_checks(load_config(tmp_path / "hub.yaml"))["raw.ops__flights"]
    [spec] = [s for s in checks if s.name == "rejects"]
    assert (spec.name, spec.blocking, spec.kwargs) == ("rejects", True, {"max_rejects": 0})
    project.write(
        {
            "ops": {
                "kind": "files",
                "path": "exports",
                "tables": {"flights": {"max_reject_share": 0.01}},
            }
        }
    )
    checks = table_checks(load_config(tmp_path / "hub.yaml"))["raw.ops__flights"]
    assert next(s for s in checks if s.name == "rejects").kwargs == {"max_reject_share": 0.01}


def test_a_latin1_line_is_kept_byte_for_byte_and_the_reason_names_the_encoding(
    tmp_path: Path,
) -> None:
    export(tmp_path, "flights.csv", "id,carrier\n1,UA\n2,Zoë\n".encode("latin-1"))
    project = files_project(tmp_path)

    result = project.load("ops", "flights")

    assert result.rejected == 1
    [(reason, raw)] = project.sql("SELECT reason, raw FROM rejects.ops__flights")
    assert "encoding" in reason and "`csv.encoding`" in reason
    assert bytes(raw) == "2,Zoë".encode("latin-1")
    project.write(
        {
            "ops": {
                "kind": "files",
                "path": "exports",
                "csv": {"encoding": "latin-1"},
                "tables": {"flights": {"pattern": "flights*"}},
            }
        }
    )
    again = project.load("ops", "flights")
    assert again.rejected == 0
    assert project.sql("SELECT carrier FROM raw.ops__flights ORDER BY id") == [("UA",), ("Zoë",)]


def test_csv_options_tsv_gzip_bom_and_a_header_only_file(tmp_path: Path) -> None:
    export(tmp_path, "flights.tsv.gz", gzip.compress("\ufeffid\tcarrier\n1\tUA\n2\tB6\n".encode()))
    project = files_project(tmp_path, csv={"delimiter": "\t"})

    result = project.load("ops", "flights")

    assert result.written == 2
    assert project.types("raw.ops__flights") == {"id": "BIGINT", "carrier": "VARCHAR"}
    (tmp_path / "exports" / "flights.tsv.gz").unlink()
    export(tmp_path, "flights.tsv", "id\tcarrier\n")
    with pytest.raises(LoadError, match="returned no rows, so the previous data is kept"):
        project.load("ops", "flights")
    assert project.sql("SELECT count(*) FROM raw.ops__flights") == [(2,)]


def test_files_with_different_columns_are_united_by_name_with_rejects_kept(
    tmp_path: Path,
) -> None:
    export(tmp_path, "flights_2013.csv", "id,carrier\n1,UA\n2,B6,extra\n")
    export(tmp_path, "flights_2014.csv", "id,carrier,tail\n3,AA,N123\n4\n")
    project = files_project(tmp_path)

    result = project.load("ops", "flights")

    assert project.sql("SELECT id, carrier, tail FROM raw.ops__flights ORDER BY id") == [
        (1, "UA", None),
        (3, "AA", "N123"),
    ]
    assert result.rejected == 2
    assert project.sql("SELECT location FROM rejects.ops__flights ORDER BY 1") == [
        ("flights_2013.csv line 3",),
        ("flights_2014.csv line 3",),
    ]


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ('id,carrier\n1,UA\n2,"B6\n3,AA\n', "could not be parsed as CSV"),
        ("id,carrier,carrier\n1,UA,B6\n", "names the column(s) ['carrier'] more than once"),
        ("id;carrier\n1;UA\n", "primary key or cursor"),
    ],
    ids=["unterminated quote", "duplicate column names", "wrong delimiter"],
)
def test_broken_exports_are_named_with_the_fix_and_the_last_good_data_stays(
    tmp_path: Path, text: str, expected: str
) -> None:
    export(tmp_path, "flights.csv", "id,carrier\n1,UA\n")
    project = files_project(tmp_path, {"primary_key": "id"}, csv={"delimiter": ",", "quote": '"'})
    project.load("ops", "flights")
    export(tmp_path, "flights.csv", text)

    with pytest.raises(LoadError, match="source ops, table flights") as caught:
        project.load("ops", "flights")
    assert expected in str(caught.value) and "Fix" in str(caught.value)
    assert project.sql("SELECT id, carrier FROM raw.ops__flights") == [(1, "UA")]


def test_json_and_ndjson_are_typed_by_the_same_rules(tmp_path: Path) -> None:
    records = [
        {"id": 1, "seen": "2024-05-01T10:00:00", "status": "ok", "score": "NA"},
        {"id": 2, "seen": "2024-05-02T11:30:00", "status": "", "score": "7"},
    ]
    export(tmp_path, "flights.ndjson", "\n".join(json.dumps(r) for r in records) + "\n")
    project = files_project(
        tmp_path, {"columns": {"score": {"type": "INTEGER"}}}, null_values=["", "NA"]
    )

    project.load("ops", "flights")

    assert project.types("raw.ops__flights") == {
        "id": "BIGINT",
        "seen": "TIMESTAMP",
        "status": "VARCHAR",
        "score": "INTEGER",
    }
    assert project.sql("SELECT id, status, score FROM raw.ops__flights ORDER BY id") == [
        (1, "ok", None),
        (2, None, 7),
    ]


def test_a_declared_type_duckdb_does_not_know_is_named(tmp_path: Path) -> None:
    export(tmp_path, "flights.parquet", b"")
    duckdb.sql(
        f"COPY (SELECT 1 AS id) TO '{tmp_path / 'exports' / 'flights.parquet'}' (FORMAT parquet)"
    )
    project = files_project(tmp_path, {"columns": {"id": {"type": "INTEGR"}}})

    with pytest.raises(LoadError, match="column `id`: 'INTEGR' is not a DuckDB type"):
        project.load("ops", "flights")


def test_a_column_named_filename_is_kept(tmp_path: Path) -> None:
    export(tmp_path, "flights.csv", "id,filename\n1,a.pdf\n")
    project = files_project(tmp_path)

    project.load("ops", "flights")

    assert project.sql("SELECT id, filename, _hub_origin FROM raw.ops__flights") == [
        (1, "a.pdf", str(tmp_path / "exports" / "flights.csv"))
    ]
