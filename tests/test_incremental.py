"""Write dispositions, incremental cursors and schema contracts: only new data is read, a
re-run adds no duplicate, a changed schema does what the contract says, every change is on
record, and a failed load changes nothing."""

from __future__ import annotations

from pathlib import Path

import pytest

from hub.load import LoadError
from tests.sources import Project


def orders(tmp_path: Path, text: str) -> None:
    folder = tmp_path / "exports"
    folder.mkdir(exist_ok=True)
    (folder / "orders.csv").write_text(text)


def shop(tmp_path: Path, **table: object) -> Project:
    return Project(
        tmp_path,
        {"shop": {"kind": "files", "path": "exports", "tables": {"orders": table}}},
    )


HEADER = "order_id,amount,updated_at\n"


def test_merge_upserts_on_the_key_and_a_rerun_adds_no_duplicate(tmp_path: Path) -> None:
    orders(tmp_path, HEADER + "1,10,2024-01-01 00:00:00\n2,20,2024-01-02 00:00:00\n")
    project = shop(tmp_path, primary_key="order_id", write="merge", cursor="updated_at")
    project.load("shop", "orders")
    orders(
        tmp_path,
        HEADER
        + "1,10,2024-01-01 00:00:00\n2,25,2024-01-03 00:00:00\n"
        + "3,30,2024-01-04 00:00:00\n3,31,2024-01-05 00:00:00\n",
    )

    second = project.load("shop", "orders")
    third = project.load("shop", "orders")

    assert (second.read, second.written) == (3, 2)  # past the cursor; one row per key
    assert third.read == 0 and third.batch_id is None
    assert project.sql("SELECT order_id, amount FROM raw.shop__orders ORDER BY 1") == [
        (1, 10),
        (2, 25),
        (3, 31),
    ]
    assert project.sql("SELECT value FROM meta.source_state") == [("2024-01-05 00:00:00",)]


def test_append_adds_only_rows_past_the_cursor_and_full_refresh_starts_over(
    tmp_path: Path,
) -> None:
    orders(tmp_path, HEADER + "1,10,2024-01-01 00:00:00\n")
    project = shop(tmp_path, write="append", cursor="updated_at")
    project.load("shop", "orders")
    orders(tmp_path, HEADER + "1,10,2024-01-01 00:00:00\n2,20,2024-01-02 00:00:00\n")

    project.load("shop", "orders")
    project.load("shop", "orders")
    assert project.sql("SELECT count(*) FROM raw.shop__orders") == [(2,)]
    project.load("shop", "orders", full_refresh=True)
    assert project.sql("SELECT count(*) FROM raw.shop__orders") == [(2,)]


@pytest.mark.parametrize("contract", ["evolve", "freeze", "discard_columns"])
def test_a_changed_schema_follows_the_contract_and_is_on_record(
    tmp_path: Path, contract: str
) -> None:
    orders(tmp_path, HEADER + "1,10,2024-01-01 00:00:00\n")
    project = shop(tmp_path, write="append", schema=contract)
    project.load("shop", "orders")
    orders(tmp_path, "order_id,amount,updated_at,channel\n2,20,2024-01-02 00:00:00,web\n")

    if contract == "freeze":
        with pytest.raises(LoadError, match="column `channel` added .* contract is `freeze`"):
            project.load("shop", "orders")
        assert project.sql("SELECT count(*) FROM raw.shop__orders") == [(1,)]
    else:
        project.load("shop", "orders")
        columns = set(project.types("raw.shop__orders"))
        assert ("channel" in columns) is (contract == "evolve")
        assert project.sql("SELECT count(*) FROM raw.shop__orders") == [(2,)]
    change = "discarded" if contract == "discard_columns" else "added"
    assert project.sql(
        "SELECT change, column_name, contract, applied FROM meta.schema_history"
    ) == [(change, "channel", contract, contract == "evolve")]


def test_a_type_change_between_loads_widens_under_evolve(tmp_path: Path) -> None:
    orders(tmp_path, HEADER + "1,10,2024-01-01 00:00:00\n")
    project = shop(tmp_path, write="append")
    project.load("shop", "orders")
    orders(tmp_path, HEADER + "2,20.5,2024-01-02 00:00:00\n")

    result = project.load("shop", "orders")

    assert result.schema_changes == ["column `amount` changed from BIGINT to DOUBLE"]
    assert project.sql("SELECT amount FROM raw.shop__orders ORDER BY order_id") == [
        (10.0,),
        (20.5,),
    ]


@pytest.mark.parametrize(
    ("first", "second", "kept"),
    [("1.5", "2", [(1, 1.5), (2, 2.0)]), ("A7", "7", [(1, "A7"), (2, "7")])],
    ids=["DOUBLE then BIGINT", "VARCHAR then BIGINT"],
)
def test_appending_never_narrows_a_column(
    tmp_path: Path, first: str, second: str, kept: list
) -> None:
    orders(tmp_path, f"order_id,price\n1,{first}\n")
    project = shop(tmp_path, write="append")
    project.load("shop", "orders")
    orders(tmp_path, f"order_id,price\n2,{second}\n")

    project.load("shop", "orders")

    assert project.sql("SELECT order_id, price FROM raw.shop__orders ORDER BY 1") == kept


def test_rows_without_a_cursor_and_old_rejects_are_not_loaded_again(tmp_path: Path) -> None:
    orders(tmp_path, "order_id,seq\n1,1\n2,\n3,oops,extra\n")
    project = shop(tmp_path, write="append", cursor="seq", max_rejects=5)
    first = project.load("shop", "orders")
    second = project.load("shop", "orders")

    assert (first.read, first.rejected) == (3, 1)
    assert (second.read, second.rejected, second.batch_id) == (0, 0, None)  # nothing new
    assert project.sql("SELECT order_id FROM raw.shop__orders ORDER BY 1") == [(1,), (2,)]
    assert project.sql("SELECT count(*) FROM rejects.shop__orders") == [(1,)]


def test_merge_keeps_one_row_per_key_from_the_first_load(tmp_path: Path) -> None:
    orders(tmp_path, "order_id,status\n1,a\n1,b\n2,c\n")
    project = shop(tmp_path, primary_key="order_id", write="merge")

    project.load("shop", "orders")

    assert project.sql("SELECT order_id, status FROM raw.shop__orders ORDER BY 1") == [
        (1, "b"),
        (2, "c"),
    ]
