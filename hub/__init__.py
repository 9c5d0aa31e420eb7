"""Groundwork: unify siloed sources into a governed DuckDB store, prove the data, then let
agents draft behind a human approval.

Notebook access to the governed store, read-only, as an audience:

    import hub
    hub.sql("SELECT * FROM unified.customer LIMIT 5")   # a pandas DataFrame, PII masked
    hub.sql("SELECT * FROM raw.crm__clients", audience="steward")   # everything, in clear
    hub.tables()                                         # every table you may read
    hub.table("serve.clients")
    with hub.connect() as con:                           # a sandboxed connection
        con.execute("SELECT count(*) FROM serve.clients").fetchall()

The audience is `access.default_audience` in hub.yaml (`analyst` unless it says otherwise):
`analyst` reads `unified`, `serve` and `meta.check_results` / `meta.batches` with PII
masked by its policies; `steward` reads the whole store in clear; `agent` reads what agents
read. Every call goes through the sandbox (`hub.sandbox`): one SELECT, no files, no
network, no writes. Each call opens and closes its own connection, so a notebook left open
never blocks a run; while a run is writing, the call waits (up to 60 s) and then says so.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    import pandas as pd

    from hub.sandbox import SandboxConnection

__all__ = ["connect", "sql", "table", "tables"]


def sql(
    query: str,
    params: list[Any] | dict[str, Any] | None = None,
    *,
    audience: str | None = None,
    config: str | None = None,
) -> pd.DataFrame:
    """Run one SELECT as `audience` (default: the project's); returns a DataFrame."""
    import duckdb

    from hub.sandbox import SandboxQueryError

    with connect(audience=audience, config=config) as con:
        try:
            return con.execute(query, params).df()
        except SandboxQueryError as exc:
            missing_table = "Table with name" in str(exc)
            if not (isinstance(exc.__cause__, duckdb.CatalogException) and missing_table):
                raise
            readable = ", ".join(
                r[0]
                for r in con.execute(
                    "SELECT DISTINCT schema_name FROM duckdb_tables() "
                    "WHERE database_name = 'hub' AND NOT starts_with(table_name, '_hub') "
                    "ORDER BY 1"
                ).fetchall()
            )
            raise SandboxQueryError(
                f"{exc}\nThis audience reads the schemas {readable}. Fix: query those, or "
                "read as the steward (`--as steward`, `audience='steward'`) if you are one."
            ) from None


def tables(*, audience: str | None = None, config: str | None = None) -> pd.DataFrame:
    """Every table the audience may read, with its layer (schema) and row count estimate."""
    return sql(
        "SELECT schema_name AS layer, table_name AS name, estimated_size AS rows "
        "FROM duckdb_tables() WHERE database_name = 'hub' "
        "AND NOT starts_with(table_name, '_hub') ORDER BY 1, 2",
        audience=audience,
        config=config,
    )


def table(
    name: str,
    *,
    limit: int | None = None,
    audience: str | None = None,
    config: str | None = None,
) -> pd.DataFrame:
    """One table (`layer.name`, or `name` for the agent audience) as a DataFrame."""
    from hub.store import quote_ident

    ref = ".".join(quote_ident(part) for part in name.split("."))
    suffix = f" LIMIT {int(limit)}" if limit is not None else ""
    return sql(f"SELECT * FROM {ref}{suffix}", audience=audience, config=config)


def connect(*, audience: str | None = None, config: str | None = None) -> SandboxConnection:
    """A sandboxed read-only connection you close yourself (`with hub.connect() as con:`):
    `con.execute("SELECT ...").df()`, `.fetchall()`, `.arrow()`. As `steward` it holds the
    store open (runs cannot write until you close it); other audiences read their own copy.
    """
    from hub.config import AUDIENCES, ConfigError, load_config
    from hub.copies import reader_path
    from hub.sandbox import SandboxConnection, open_sandbox
    from hub.store import Store

    loaded = load_config(config)
    who = audience or loaded.access.default_audience
    if who not in AUDIENCES:
        raise ConfigError(f"unknown audience {who!r}; use one of {', '.join(AUDIENCES)}.")
    path = reader_path(loaded, Store.of(loaded), who)
    access = loaded.access
    return SandboxConnection(
        open_sandbox(path, memory_limit=access.memory_limit, threads=access.threads)
    )
