"""SQL databases through SQLAlchemy: any database with a SQLAlchemy dialect.

Tables are reflected (identifiers are quoted by SQLAlchemy, never formatted by hand) and
read with a streaming cursor in chunks. The URL is logged with its password hidden.
"""

from __future__ import annotations

from pathlib import Path

import pyarrow as pa
import sqlalchemy as sa

from connectors.base import Extract, SourceReadError, with_origin
from hub import secrets
from hub.config import SourceConfig, TableConfig
from hub.secrets import redact_url

CHUNK_ROWS = 50_000


def read(source: SourceConfig, name: str, table: str, config: TableConfig, root: Path) -> Extract:
    url = sa.engine.make_url(_with_root(source.url or "", root))
    secrets.register(url.password)  # driver errors may quote it; every message is scrubbed
    shown = redact_url(url.render_as_string(hide_password=True))
    engine = sa.create_engine(url)
    try:
        with engine.connect() as conn:
            reflected = sa.Table(table, sa.MetaData(), autoload_with=conn)
            result = conn.execution_options(stream_results=True).execute(sa.select(reflected))
            columns = list(result.keys())
            batches = [
                pa.RecordBatch.from_pylist([dict(row) for row in chunk])
                for chunk in result.mappings().partitions(CHUNK_ROWS)
            ]
    except sa.exc.NoSuchTableError as exc:
        raise SourceReadError(
            f"source {name}: table {table!r} does not exist in {shown}. "
            "Fix: correct the table name under `tables` in hub.yaml."
        ) from exc
    except sa.exc.SQLAlchemyError as exc:
        cause = getattr(exc, "orig", None) or exc
        raise SourceReadError(
            f"source {name}, table {table}: cannot read from {shown}: "
            f"{type(cause).__name__}: {secrets.scrub(str(cause))}. "
            "Fix: check that the database is reachable and the URL in hub.yaml is right."
        ) from exc
    except (pa.ArrowInvalid, pa.ArrowTypeError) as exc:
        raise _mixed_types(name, table, exc) from exc
    finally:
        engine.dispose()
    # Types are inferred per chunk (a column that is NULL throughout one chunk is `null`
    # there), so chunks are unified rather than required to match.
    try:
        rows = (
            pa.concat_tables(
                [pa.Table.from_batches([b]) for b in batches], promote_options="permissive"
            )
            if batches
            else _empty(columns)
        )
    except (pa.ArrowInvalid, pa.ArrowTypeError) as exc:
        raise _mixed_types(name, table, exc) from exc
    return Extract(rows=with_origin(rows, f"{shown}#{table}"), location=shown)


def _mixed_types(name: str, table: str, exc: Exception) -> SourceReadError:
    return SourceReadError(
        f"source {name}, table {table}: a column holds values of different types ({exc}). "
        "Fix: clean or cast that column in the source (SQLite allows mixed types); "
        "the last good data is kept."
    )


def _with_root(url: str, root: Path) -> str:
    """Resolve a relative SQLite path against the project folder."""
    if url.startswith("sqlite:///") and not url.startswith("sqlite:////"):
        return "sqlite:///" + str((root / url.removeprefix("sqlite:///")).resolve())
    return url


def _empty(columns: list[str]) -> pa.Table:
    return pa.table({c: pa.array([], pa.string()) for c in columns})
