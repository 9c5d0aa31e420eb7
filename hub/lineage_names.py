"""How Groundwork names its datasets for OpenLineage: by where they are, never with credentials.

The conventions of the OpenLineage spec where it has one; the namespace is the source's
location, rebuilt from the parsed URL (scheme, host and port only: no user-info, no query):
- a table of the store: `duckdb://<absolute path of the store>`, name `raw.crm__clients`; an
  audience's published copy is a DuckDB file of its own (`duckdb://<its path>`,
  `main.clients`); an agent writes `agents.drafts` in the store;
- PostgreSQL `postgres://host:port` + `database.schema.table` (schema `public` unless the
  table's `name` says); MySQL/MariaDB `mysql://host:port` + `database.table`; SQLite
  `sqlite://<absolute path>` + `table`; another SQLAlchemy database `<dialect>://host:port` +
  `database.table`;
- a folder (`files`, `documents`): `file://<absolute folder>` + the table's `pattern` (or its
  name when it has none);
- an HTTP API: `http(s)://host:port` + the endpoint's path.
Nothing here lists source kinds: a source is named from its `location()` (what logs may show)
and the table's own `name`, `path` or `pattern` when it has one.
"""

from __future__ import annotations

import urllib.parse
from dataclasses import dataclass
from pathlib import Path

import duckdb

from hub.config import HubConfig
from hub.copies import agent_copy_tables, analyst_copy_tables, copy_path
from hub.store import Store

_COPIES = {
    "agent_copy": ("agent", agent_copy_tables),
    "analyst_copy": ("analyst", analyst_copy_tables),
}
"The copies' asset names, their audience and the tables each holds."
_DEFAULT_PORTS = {"postgres": 5432, "mysql": 3306, "http": 80, "https": 443}


@dataclass(frozen=True)
class Dataset:
    namespace: str
    name: str
    file: Path | None = None
    "The DuckDB file holding it (the store or a copy), where its schema can be read."


def store_dataset(config: HubConfig, ref: str) -> Dataset:
    """A table of the store (`raw.crm__clients`)."""
    path = Store.of(config).path.resolve()
    return Dataset(f"duckdb://{path.as_posix()}", ref, path)


def asset_datasets(config: HubConfig, path: tuple[str, ...]) -> list[Dataset]:
    """The datasets an asset (by its key's parts) writes."""
    layer, name = path[0], path[-1]
    if layer in ("raw", "unified", "serve"):
        return [store_dataset(config, f"{layer}.{name}")]
    if layer == "agents":
        return [store_dataset(config, "agents.drafts")]
    if layer == "copies" and name in _COPIES:
        audience, tables = _COPIES[name]
        file = copy_path(config, audience).resolve()
        return [
            Dataset(f"duckdb://{file.as_posix()}", f"{schema}.{table}", file)
            for schema, table, ref in tables(config)
            if not ref.startswith("meta.")  # the store's bookkeeping, not an asset
        ]
    return []


def source_dataset(config: HubConfig, source: str, table: str) -> Dataset:
    """What a raw table is loaded from, named by its source's location (no credentials)."""
    spec, settings = config.sources[source], config.sources[source].tables[table]
    location = spec.location(config.root)
    parts = urllib.parse.urlsplit(location)
    if "://" not in location:  # a folder of files or documents
        return Dataset(
            f"file://{Path(location).as_posix()}", getattr(settings, "pattern", None) or table
        )
    scheme = parts.scheme.partition("+")[0].lower()
    scheme = {"postgresql": "postgres", "mariadb": "mysql"}.get(scheme, scheme)
    database = parts.path.lstrip("/")
    if scheme == "sqlite":  # the file's absolute path, however many slashes the URL shows
        file = "/" + location.partition("://")[2].partition("?")[0].lstrip("/")
        return Dataset(f"sqlite://{file}", getattr(settings, "name", None) or table)
    namespace = f"{scheme}://{_authority(parts, scheme)}"
    if scheme in ("http", "https"):
        base = parts.path.rstrip("/") + "/"
        path = getattr(settings, "path", None) or table
        return Dataset(namespace, urllib.parse.urljoin(base, path.lstrip("/")))
    name = getattr(settings, "name", None) or table
    if scheme == "postgres" and "." not in name:
        name = f"public.{name}"
    return Dataset(namespace, f"{database}.{name}" if database else name)


def _authority(parts: urllib.parse.SplitResult, scheme: str) -> str:
    host = parts.hostname or ""
    host = f"[{host}]" if ":" in host else host
    port = parts.port or _DEFAULT_PORTS.get(scheme)
    return f"{host}:{port}" if port else host


def describe(config: HubConfig, dataset: Dataset) -> list[tuple[str, str]]:
    """Columns and types of a table of the store or of a copy (empty when it has none)."""
    if dataset.file is None:
        return []
    if dataset.file == Store.of(config).path.resolve():
        with Store.of(config).reader() as con:
            return columns_of(con, dataset.name)
    with duckdb.connect(str(dataset.file), read_only=True) as con:
        return columns_of(con, dataset.name)


def columns_of(con: duckdb.DuckDBPyConnection, ref: str) -> list[tuple[str, str]]:
    """(column, type) of `schema.table` in the database `con` is on, in order."""
    schema, _, table = ref.partition(".")
    return con.execute(
        "SELECT column_name, data_type FROM information_schema.columns "
        "WHERE table_schema = ? AND table_name = ? ORDER BY ordinal_position",
        [schema, table],
    ).fetchall()
