"""Groundwork: unify siloed sources into a governed DuckDB store, prove the data, then let
agents draft behind a human approval.

Notebook access to the unified store, read-only:

    import hub
    hub.sql("SELECT * FROM unified.customer LIMIT 5")   # a pandas DataFrame
    hub.tables()                                         # every table, by layer
    hub.table("serve.clients")

Each call opens a short read-only connection and closes it, so a notebook left open never
blocks a run; while a run is writing, the call waits (up to 60 s) and then says so clearly.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    import duckdb
    import pandas as pd

__all__ = ["connect", "sql", "table", "tables"]


def sql(
    query: str, params: list[Any] | dict[str, Any] | None = None, *, config: str | None = None
) -> pd.DataFrame:
    """Run a query on the store through a read-only connection; returns a DataFrame."""
    with _open_store(config).reader() as con:
        return con.execute(query, params).df()


def tables(*, config: str | None = None) -> pd.DataFrame:
    """Every table of the store with its layer (schema) and row count estimate."""
    return sql(
        "SELECT schema_name AS layer, table_name AS name, estimated_size AS rows "
        "FROM duckdb_tables() ORDER BY 1, 2",
        config=config,
    )


def table(name: str, *, limit: int | None = None, config: str | None = None) -> pd.DataFrame:
    """One table (`layer.name`) as a DataFrame."""
    from hub.store import split_ref, table_ref

    ref = table_ref(*split_ref(name))
    suffix = f" LIMIT {int(limit)}" if limit is not None else ""
    return sql(f"SELECT * FROM {ref}{suffix}", config=config)


def connect(*, config: str | None = None) -> duckdb.DuckDBPyConnection:
    """A read-only connection you close yourself; while it is open, runs cannot write."""
    store = _open_store(config)
    return store.connect(read_only=True)


def _open_store(config: str | None):  # noqa: ANN202
    from hub.config import load_config
    from hub.store import Store

    loaded = load_config(config)
    return Store.of(loaded)
