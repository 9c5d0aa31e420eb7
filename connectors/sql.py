"""SQL databases: SQLite, PostgreSQL and MySQL/MariaDB through DuckDB's own scanners (at
scanner speed, straight into the store), any other SQLAlchemy dialect through SQLAlchemy.

The scanners come from the pinned offline extension packages (`duckdb_extensions`), so
nothing is downloaded. The cursor of an incremental table is pushed down as a `WHERE` the
database evaluates. `query:` reads a SELECT written in the database's own SQL instead of a
table (PostgreSQL and MySQL run it themselves through `postgres_query` / `mysql_query`).
Through SQLAlchemy, rows stream in Arrow batches typed from the reflected schema (decimals,
timestamps with and without time zone, booleans, JSON, UUID, binary), so memory stays flat
and a column that is NULL throughout one batch keeps its type. URLs are shown without
their password, and driver error text is scrubbed of it.
"""

from __future__ import annotations

import json
import uuid
from collections.abc import Iterator
from functools import cache
from pathlib import Path
from typing import Any, Literal

import pyarrow as pa

from connectors.base import ORIGIN_COLUMN, Extract, SourceBase, SourceReadError
from connectors.base import Table as BaseTable
from hub import secrets
from hub.secrets import redact_url
from hub.store import quote_column, quote_literal

CHUNK_ROWS = 50_000
_SCANNERS = {"sqlite": "sqlite_scanner", "postgresql": "postgres_scanner", "mysql": "mysql_scanner"}
_NATIVE_QUERY = {"postgresql": "postgres_query", "mysql": "mysql_query"}


class Table(BaseTable):
    query: str | None = None
    "A SELECT in the database's own SQL, read instead of the table."
    name: str | None = None
    "The table's name in the database (`schema.table`), when it is not the key."


class Source(SourceBase):
    kind: Literal["sql"]
    url: str
    "A SQLAlchemy URL; write the password as `${NAME}` (it is encoded for you)."
    reader: Literal["auto", "scanner", "sqlalchemy"] = "auto"
    "`auto`: DuckDB's scanner for SQLite, PostgreSQL and MySQL/MariaDB, SQLAlchemy otherwise."
    tables: dict[str, Table]

    def location(self, root: Path) -> str:
        return _shown(_url(self, root))

    def engine_url(self, root: Path) -> Any:
        """The SQLAlchemy URL to write to this database (a relative SQLite path resolved
        against hub.yaml's folder); its password is registered as a secret."""
        return _url(self, root)


def read(
    source: Source, name: str, table: str, config: Table, root: Path, since: object = None
) -> Extract:
    url = _url(source, root)
    backend = "mysql" if url.get_backend_name() in ("mysql", "mariadb") else url.get_backend_name()
    use_scanner = source.reader != "sqlalchemy" and backend in _SCANNERS
    if source.reader == "scanner" and (
        backend not in _SCANNERS or (config.query and backend not in _NATIVE_QUERY)
    ):
        raise SourceReadError(
            f"source {name}, table {table}: DuckDB's scanner cannot "
            f"{'run a query on' if backend in _SCANNERS else 'read'} {backend}. "
            "Fix: set `reader: sqlalchemy` (or `auto`)."
        )
    if config.query and backend not in _NATIVE_QUERY:
        use_scanner = False  # SQLite's own SQL runs through SQLite
    if use_scanner:
        return _scan(url, backend, name, table, config, since)
    return _alchemy(url, name, table, config, since)


def _url(source: Source, root: Path) -> Any:
    import sqlalchemy as sa

    text = source.url
    if text.startswith("sqlite:///") and not text.startswith("sqlite:////"):
        text = "sqlite:///" + str((root / text.removeprefix("sqlite:///")).resolve())
    url = sa.engine.make_url(text)
    secrets.register(url.password)  # driver errors may quote it; every message is scrubbed
    return url


def _shown(url: Any) -> str:
    return redact_url(url.render_as_string(hide_password=True))


# --- DuckDB's scanners ------------------------------------------------------------------


def _scan(url: Any, backend: str, name: str, table: str, config: Table, since: object) -> Extract:
    extension = _SCANNERS[backend]
    _install(extension)
    alias = f"_hub_src_{uuid.uuid4().hex[:8]}"
    kind = backend.replace("postgresql", "postgres")
    if backend == "sqlite":
        connect = [
            f"ATTACH {quote_literal(url.database or '')} AS {alias} (TYPE sqlite, READ_ONLY)"
        ]
    else:  # the credentials go through a temporary DuckDB secret, no connection string
        options = _secret_options(url)
        connect = [
            f"CREATE OR REPLACE TEMPORARY SECRET {alias} (TYPE {kind}, {options})",
            f"ATTACH '' AS {alias} (TYPE {kind}, SECRET {alias}, READ_ONLY)",
        ]
    shown = _shown(url)
    origin = f"{shown}#{config.query and 'query' or config.name or table}"
    if config.query:
        function = _NATIVE_QUERY.get(backend)
        source_sql = f"{function}({quote_literal(alias)}, {quote_literal(config.query)})"
    else:
        source_sql = f"{alias}.{_qualified(config.name or table)}"
    where, params = _cursor_filter(config.cursor, since)
    drop_secret = [] if backend == "sqlite" else [f"DROP TEMPORARY SECRET IF EXISTS {alias}"]
    return Extract(
        location=shown,
        sql=f"SELECT *, ? AS {ORIGIN_COLUMN} FROM {source_sql}{where}",
        params=[origin, *params],
        setup=[f"LOAD {extension}", *connect],
        teardown=[f"DETACH {alias}", *drop_secret],
        apply_types=True,
        explain=lambda exc: _explain(exc, name, table, shown),
    )


def _explain(exc: Exception, name: str, table: str, shown: str) -> str:
    """A scanner's error in the words of the other path (SQLAlchemy's)."""
    import duckdb

    if isinstance(exc, duckdb.CatalogException) and "does not exist" in str(exc):
        return (
            f"source {name}: table {table!r} does not exist in {shown}. "
            "Fix: correct the table name under `tables` (or `name:`) in hub.yaml."
        )
    return (
        f"source {name}, table {table}: cannot read from {shown}: "
        f"{secrets.scrub(str(exc).splitlines()[0])}. "
        "Fix: check that the database is reachable and the URL in hub.yaml is right."
    )


@cache
def _install(extension: str) -> None:
    """Install the scanner from its offline package (once per process); `LOAD` then works."""
    import duckdb
    from duckdb_extensions import import_extension

    con = duckdb.connect()
    try:
        import_extension(extension, con=con)
    finally:
        con.close()


def _secret_options(url: Any) -> str:
    """The options of a DuckDB secret for the URL's database (values as SQL literals)."""
    options = {"HOST": url.host, "PORT": url.port, "USER": url.username, "PASSWORD": url.password}
    options["DATABASE"] = url.database
    return ", ".join(
        f"{key} {value if isinstance(value, int) else quote_literal(str(value))}"
        for key, value in options.items()
        if value not in (None, "")
    )


def _qualified(name: str) -> str:
    """`schema.table` as DuckDB names it in the attached database."""
    return ".".join(quote_column(part) for part in name.split("."))


def _cursor_filter(cursor: str | None, since: object) -> tuple[str, list[Any]]:
    if not cursor or since is None:
        return "", []
    return f" WHERE {_qualified(cursor)} > ?", [since]


# --- SQLAlchemy -------------------------------------------------------------------------


def _alchemy(url: Any, name: str, table: str, config: Table, since: object) -> Extract:
    import sqlalchemy as sa

    shown = _shown(url)
    engine = sa.create_engine(url)
    try:
        with engine.connect() as conn:
            statement, schema = _statement(conn, name, table, config, since, shown)
        origin = f"{shown}#{config.query and 'query' or config.name or table}"
        batches = _batches(engine, statement, schema, origin, name, table, shown)
        if schema is None:  # a query: typed from all its rows, not from its first batch
            rows = _unified(batches, name, table)
            batches = iter(rows.to_batches())
            schema = rows.schema
        else:
            schema = schema.append(pa.field(ORIGIN_COLUMN, pa.string()))
    except sa.exc.NoSuchTableError:
        engine.dispose()
        raise SourceReadError(
            f"source {name}: table {table!r} does not exist in {shown}. "
            "Fix: correct the table name under `tables` (or `name:`) in hub.yaml."
        ) from None
    except sa.exc.SQLAlchemyError as exc:
        engine.dispose()
        raise _unreachable(name, table, shown, exc) from None
    except BaseException:
        engine.dispose()
        raise
    return Extract(
        location=shown,
        batches=batches,
        schema=schema,
        apply_types=True,
        cleanup=engine.dispose,
    )


def _statement(
    conn: Any, name: str, table: str, config: Table, since: object, shown: str
) -> tuple[Any, pa.Schema | None]:
    """What to run, and the Arrow schema of its rows (None for a query)."""
    import sqlalchemy as sa

    if config.query:
        return sa.text(config.query), None
    schema_name, _, table_name = (config.name or table).rpartition(".")
    reflected = sa.Table(table_name, sa.MetaData(), autoload_with=conn, schema=schema_name or None)
    statement = sa.select(reflected)
    if config.cursor and config.cursor not in reflected.c:
        raise SourceReadError(
            f"source {name}, table {table}: the cursor `{config.cursor}` is not a column of "
            f"{shown}#{table} ({list(reflected.c.keys())}). Fix: correct `cursor` in hub.yaml."
        )
    if config.cursor and since is not None:
        statement = statement.where(reflected.c[config.cursor] > since)
    return statement, pa.schema([(c.name, _arrow_type(c.type)) for c in reflected.columns])


def _unified(batches: Iterator[pa.RecordBatch], name: str, table: str) -> pa.Table:
    try:
        return pa.concat_tables(
            [pa.Table.from_batches([b]) for b in batches], promote_options="permissive"
        )
    except (pa.ArrowInvalid, pa.ArrowTypeError) as exc:
        raise SourceReadError(
            f"source {name}, table {table}: the query's column holds values of different types "
            f"({str(exc).splitlines()[0]}). Fix: cast it in the query; the last good data is kept."
        ) from None


def _batches(
    engine: Any, statement: Any, schema: pa.Schema | None, origin: str, *where: str
) -> Iterator[pa.RecordBatch]:
    """Arrow batches of CHUNK_ROWS rows, typed by `schema` (reflected), or inferred one by
    one (a query); at least one batch, empty or not."""
    import sqlalchemy as sa

    name, table, shown = where
    try:
        with engine.connect() as conn:
            result = conn.execution_options(stream_results=True).execute(statement)
            columns = list(result.keys())
            yielded = False
            for chunk in result.partitions(CHUNK_ROWS):
                yielded = True
                yield _to_batch(columns, chunk, schema, origin, name, table)
            if not yielded:
                yield _to_batch(columns, [], schema, origin, name, table)
    except sa.exc.SQLAlchemyError as exc:
        raise _unreachable(name, table, shown, exc) from None


def _to_batch(
    columns: list[str], rows: list[Any], schema: pa.Schema | None, origin: str, *where: str
) -> pa.RecordBatch:
    values = {c: [_plain(row[i]) for row in rows] for i, c in enumerate(columns)}
    for field in schema or []:
        if field.type == pa.bool_():  # MySQL answers 0/1 for BOOLEAN
            values[field.name] = [None if v is None else bool(v) for v in values[field.name]]
    values[ORIGIN_COLUMN] = [origin] * len(rows)
    try:
        if schema is None:
            return pa.RecordBatch.from_pydict(values)
        with_origin = schema.append(pa.field(ORIGIN_COLUMN, pa.string()))
        return pa.RecordBatch.from_pydict(values, schema=with_origin)
    except (pa.ArrowInvalid, pa.ArrowTypeError, OverflowError) as exc:
        name, table = where
        raise SourceReadError(
            f"source {name}, table {table}: a value does not fit its column's type ({exc}). "
            "Fix: declare the column's type under `columns:` or clean it in the source "
            "(SQLite allows mixed types); the last good data is kept."
        ) from None


def _plain(value: Any) -> Any:
    """A database value as Arrow takes it: JSON as text, UUIDs as text."""
    if isinstance(value, dict | list):
        return json.dumps(value, default=str)
    if isinstance(value, uuid.UUID):
        return str(value)
    if isinstance(value, memoryview):
        return bytes(value)
    return value


def _arrow_type(column_type: Any) -> pa.DataType:
    """The Arrow type of a reflected SQLAlchemy column type."""
    import sqlalchemy as sa

    kinds: list[tuple[type, Any]] = [
        (sa.Boolean, pa.bool_()),
        (sa.SmallInteger, pa.int16()),
        (sa.BigInteger, pa.int64()),
        (sa.Integer, pa.int64()),
        (sa.Float, pa.float64()),
        (sa.DateTime, None),
        (sa.Date, pa.date32()),
        (sa.Time, pa.time64("us")),
        (sa.Interval, pa.duration("us")),
        (sa.LargeBinary, pa.binary()),
        (sa.JSON, pa.string()),
        (sa.Uuid, pa.string()),
    ]
    if getattr(column_type, "display_width", None) == 1 and "TINYINT" in type(column_type).__name__:
        return pa.bool_()  # MySQL's BOOLEAN is TINYINT(1)
    for kind, arrow in kinds:
        if isinstance(column_type, kind):
            if kind is sa.DateTime:
                return pa.timestamp("us", tz="UTC" if column_type.timezone else None)
            return arrow
    if isinstance(column_type, sa.Numeric):
        precision, scale = column_type.precision, column_type.scale
        if precision and precision <= 38:
            return pa.decimal128(precision, scale or 0)
        return pa.string()  # unbounded: kept exactly as text; declare a type to convert it
    return pa.string()


def _unreachable(name: str, table: str, shown: str, exc: Exception) -> SourceReadError:
    cause = getattr(exc, "orig", None) or exc
    return SourceReadError(
        f"source {name}, table {table}: cannot read from {shown}: "
        f"{type(cause).__name__}: {secrets.scrub(str(cause))}. "
        "Fix: check that the database is reachable and the URL in hub.yaml is right."
    )
