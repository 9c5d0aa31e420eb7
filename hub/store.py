"""The governed store: one DuckDB file with a schema per layer.

DuckDB allows one writing process *or* many readers. Writers take short-lived connections
and retry with backoff while another process holds the lock; readers open read-only and do
the same, so a notebook query waits for a load to finish instead of failing.
"""

from __future__ import annotations

import json
import os
import re
import time
import uuid
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import TYPE_CHECKING, TypeVar

import duckdb
import pyarrow as pa

if TYPE_CHECKING:
    from hub.config import HubConfig

T = TypeVar("T")
LAYERS = ("raw", "rejects", "unified", "serve", "agents", "meta")
LOCK_TIMEOUT_SECONDS = 60.0
_IDENT = re.compile(r"^[A-Za-z_][A-Za-z0-9_]*$")

# `seq` orders batches and verdicts; wall-clock times are for people (clocks can step back).
_META_DDL = """
CREATE SEQUENCE IF NOT EXISTS meta.seq;
CREATE TABLE IF NOT EXISTS meta.batches (
    batch_id VARCHAR, table_name VARCHAR, source VARCHAR, loaded_at TIMESTAMPTZ,
    rows BIGINT, rejected BIGINT, run_id VARCHAR, seq BIGINT DEFAULT nextval('meta.seq'));
CREATE TABLE IF NOT EXISTS meta.check_results (
    table_name VARCHAR, check_name VARCHAR, data_version VARCHAR, passed BOOLEAN,
    blocking BOOLEAN, evaluated_at TIMESTAMPTZ, run_id VARCHAR, details JSON,
    seq BIGINT DEFAULT nextval('meta.seq'));
ALTER TABLE meta.batches ADD COLUMN IF NOT EXISTS read BIGINT;
ALTER TABLE meta.batches ADD COLUMN IF NOT EXISTS inputs JSON;
CREATE TABLE IF NOT EXISTS meta.source_state (
    table_name VARCHAR PRIMARY KEY, cursor VARCHAR, value VARCHAR, value_type VARCHAR,
    batch_id VARCHAR, updated_at TIMESTAMPTZ);
CREATE TABLE IF NOT EXISTS meta.schema_history (
    table_name VARCHAR, batch_id VARCHAR, change VARCHAR, column_name VARCHAR,
    old_type VARCHAR, new_type VARCHAR, contract VARCHAR, applied BOOLEAN,
    changed_at TIMESTAMPTZ, seq BIGINT DEFAULT nextval('meta.seq'));
CREATE TABLE IF NOT EXISTS meta.audit_log (
    seq BIGINT PRIMARY KEY, logged_at VARCHAR, actor VARCHAR, action VARCHAR, target VARCHAR,
    details VARCHAR, prev_hash VARCHAR, hash VARCHAR);
"""


class StoreError(Exception):
    """The store cannot be opened or a write cannot be applied; the message says why."""


def quote_ident(name: str) -> str:
    """Quote one identifier taken from config; refuse anything that is not a plain name."""
    if not _IDENT.match(name):
        raise StoreError(f"{name!r} is not a valid table or column name (letters, digits, _).")
    return f'"{name}"'


def quote_column(name: str) -> str:
    """Quote a column name a source chose (any text: spaces, commas, quotes, unicode)."""
    return '"' + name.replace('"', '""') + '"'


def quote_literal(value: str) -> str:
    """A SQL string literal, for the few statements that take no parameters (ATTACH)."""
    return "'" + value.replace("'", "''") + "'"


def table_ref(schema: str, table: str) -> str:
    return f"{quote_ident(schema)}.{quote_ident(table)}"


def split_ref(ref: str) -> tuple[str, str]:
    """`raw.crm__clients` -> ("raw", "crm__clients"), validated."""
    schema, _, table = ref.partition(".")
    if schema not in LAYERS or not table:
        raise StoreError(f"{ref!r}: tables are named `<layer>.<table>` with layer in {LAYERS}.")
    quote_ident(table)
    return schema, table


def new_batch_id() -> str:
    return datetime.now(UTC).strftime("%Y%m%dT%H%M%S") + "-" + uuid.uuid4().hex[:8]


def now() -> datetime:
    return datetime.now(UTC)


@dataclass(frozen=True)
class Store:
    path: Path
    lock_timeout: float = LOCK_TIMEOUT_SECONDS

    @classmethod
    def of(cls, config: HubConfig, lock_timeout: float | None = None) -> Store:
        """The store a project's hub.yaml names (waiting `store.lock_timeout` for a lock)."""
        wait = config.store.lock_timeout if lock_timeout is None else lock_timeout
        return cls(config.resolve(config.store.path), wait)

    @property
    def audit_anchor(self) -> Path:
        """The audit trail's head, kept outside the store so a cut-off end shows."""
        return self.path.with_name(self.path.name + ".audit-head")

    @contextmanager
    def writer(self) -> Iterator[duckdb.DuckDBPyConnection]:
        """A read-write connection, held briefly; the layers and meta tables exist. Before
        it closes (still holding the lock), the audit trail's head is anchored outside."""
        self.path.parent.mkdir(parents=True, exist_ok=True)
        con = self.connect(read_only=False)
        try:
            for layer in LAYERS:
                con.execute(f"CREATE SCHEMA IF NOT EXISTS {layer}")
            con.execute(_META_DDL)
            con.execute(_drafts_ddl())
            opened = audit_head(con)
            yield con
        finally:
            try:
                self._anchor_audit_head(con, opened)
            finally:
                con.close()

    def _anchor_audit_head(
        self, con: duckdb.DuckDBPyConnection, opened: tuple[int, str] | None
    ) -> None:
        """Move the anchor to the trail's head when that is safe: the anchored record is
        still in the trail as it was, or there is no anchor and the trail was empty when
        this writer opened (a new store). A trail cut or rewritten behind Groundwork's back,
        or whose anchor went missing or was mangled, keeps its anchor as it is, so
        `hub audit verify` goes on reporting it until someone re-anchors on purpose."""
        try:
            head = audit_head(con)
            anchored = read_anchor(self.audit_anchor)
            if anchored is not None:
                still = con.execute(
                    "SELECT hash FROM meta.audit_log WHERE seq = ?", [anchored[0]]
                ).fetchone()
                if still is None or still[0] != anchored[1]:
                    return
            elif opened is not None:
                return
        except (duckdb.Error, StoreError):  # an aborted transaction, or a mangled anchor
            return
        if head is not None and head != anchored:
            write_anchor(self.audit_anchor, head)

    @contextmanager
    def reader(self) -> Iterator[duckdb.DuckDBPyConnection]:
        """A read-only connection; waits while a writer holds the file."""
        if not self.path.exists():
            raise StoreError(f"no store at {self.path} yet. Fix: run `hub run` to build it.")
        con = self.connect(read_only=True)
        try:
            yield con
        finally:
            con.close()

    @contextmanager
    def transaction(self) -> Iterator[duckdb.DuckDBPyConnection]:
        """A writer inside one transaction: everything it does lands, or nothing does."""
        with self.writer() as con:
            con.execute("BEGIN TRANSACTION")
            try:
                yield con
            except BaseException:
                con.execute("ROLLBACK")
                raise
            con.execute("COMMIT")

    def connect(self, *, read_only: bool) -> duckdb.DuckDBPyConnection:
        """A connection, retrying with backoff while another process holds the lock. Its
        time zone is UTC, whatever the machine's: a load, a check or a bound on a time with a
        zone means the same everywhere."""
        con = open_waiting(
            self.path,
            lambda: duckdb.connect(str(self.path), read_only=read_only),
            self.lock_timeout,
        )
        con.execute("SET TimeZone = 'UTC'")
        return con


def open_waiting(path: Path, opener: Callable[[], T], timeout: float = LOCK_TIMEOUT_SECONDS) -> T:
    """`opener()`, retried with backoff while another process holds `path`'s lock; after
    `timeout` seconds, a clear error naming the process that holds it."""
    deadline = time.monotonic() + timeout
    delay = 0.05
    while True:
        try:
            return opener()
        except duckdb.IOException as exc:
            if "lock" not in str(exc).lower():
                raise StoreError(f"cannot open the store {path}: {exc}") from exc
            if time.monotonic() >= deadline:
                raise StoreError(
                    f"the store {path} stayed locked by another process for "
                    f"{timeout:g}s ({_lock_holder(exc)}). Fix: wait for the "
                    "running materialization to finish, or close the connection "
                    "that holds it, then retry."
                ) from exc
            time.sleep(delay)
            delay = min(delay * 2, 0.25)


def audit_head(con: duckdb.DuckDBPyConnection) -> tuple[int, str] | None:
    """(sequence number, hash) of the audit trail's latest record."""
    row = con.execute("SELECT seq, hash FROM meta.audit_log ORDER BY seq DESC LIMIT 1").fetchone()
    return (row[0], row[1]) if row else None


def read_anchor(path: Path) -> tuple[int, str] | None:
    """The anchored (sequence number, hash), None when there is no anchor file."""
    if not path.exists():
        return None
    try:
        anchored = json.loads(path.read_text())
        return int(anchored["seq"]), str(anchored["hash"])
    except (OSError, ValueError, KeyError, TypeError) as exc:
        raise StoreError(f"the audit anchor {path} cannot be read ({exc}).") from None


def write_anchor(path: Path, head: tuple[int, str]) -> None:
    replace_file(path, json.dumps({"seq": head[0], "hash": head[1]}).encode())


def write_new_file(path: Path, data: bytes, *, mode: int = 0o644) -> bool:
    """Create `path` holding `data`, whole or not at all; False (and nothing written) when it
    already exists. Concurrent writers: exactly one wins."""
    staging = path.with_name(f".{path.name}.{os.getpid()}.{uuid.uuid4().hex[:8]}.tmp")
    try:
        descriptor = os.open(staging, os.O_WRONLY | os.O_CREAT | os.O_EXCL, mode)
        with os.fdopen(descriptor, "wb") as file:
            file.write(data)
        os.link(staging, path)
    except FileExistsError:
        return False
    finally:
        staging.unlink(missing_ok=True)
    return True


def replace_file(path: Path, data: bytes) -> None:
    """Replace `path` with `data` in one step: readers see the old file or the new one."""
    staging = path.with_name(f".{path.name}.{os.getpid()}.{uuid.uuid4().hex[:8]}.tmp")
    try:
        staging.write_bytes(data)
        os.replace(staging, path)
    finally:
        staging.unlink(missing_ok=True)


def _drafts_ddl() -> str:
    from hub.actions import DDL as ACTIONS  # the tables' owners; imported here to keep
    from hub.cases import DDL as CASES  # imports one way
    from hub.drafts import DDL

    return DDL + ACTIONS + CASES


def _lock_holder(exc: Exception) -> str:
    match = re.search(r"PID (\d+)", str(exc))
    return f"held by PID {match.group(1)}" if match else "lock held"


def table_exists(con: duckdb.DuckDBPyConnection, schema: str, table: str) -> bool:
    row = con.execute(
        "SELECT count(*) FROM information_schema.tables WHERE table_schema = ? AND table_name = ?",
        [schema, table],
    ).fetchone()
    return bool(row and row[0])


def latest_batch(con: duckdb.DuckDBPyConnection, table_name: str) -> str | None:
    row = con.execute(
        "SELECT batch_id FROM meta.batches WHERE table_name = ? ORDER BY seq DESC LIMIT 1",
        [table_name],
    ).fetchone()
    return row[0] if row else None


def replace_table(
    con: duckdb.DuckDBPyConnection,
    schema: str,
    table: str,
    data: pa.Table,
    *,
    source: str,
    run_id: str | None = None,
    rejected: int = 0,
    batch_id: str | None = None,
    constants: dict[str, object] | None = None,
    inputs: dict[str, str | None] | None = None,
) -> str:
    """Swap `schema.table` for `data` (plus constant columns, e.g. lineage) and record the
    batch (built from `inputs`: table -> batch); call inside a transaction."""
    batch_id = batch_id or new_batch_id()
    constants = constants or {}
    extra = "".join(f", ? AS {quote_ident(name)}" for name in constants)
    con.register("_hub_incoming", data)
    try:
        con.execute(
            f"CREATE OR REPLACE TABLE {table_ref(schema, table)} AS "
            f"SELECT *{extra} FROM _hub_incoming",
            list(constants.values()),
        )
    finally:
        con.unregister("_hub_incoming")
    rows = con.execute(f"SELECT count(*) FROM {table_ref(schema, table)}").fetchone()[0]
    record_batch(con, batch_id, f"{schema}.{table}", source, rows, rejected, run_id, inputs=inputs)
    return batch_id


def record_batch(
    con: duckdb.DuckDBPyConnection,
    batch_id: str,
    table_name: str,
    source: str,
    rows: int,
    rejected: int,
    run_id: str | None,
    read: int | None = None,
    inputs: dict[str, str | None] | None = None,
) -> None:
    """Say in `meta.batches` that `table_name` now holds batch `batch_id` (`rows` in all,
    `read` rows read by this load of which `rejected` were rejected; a derived table's
    `inputs`: the batch of each table it was built from)."""
    con.execute(
        "INSERT INTO meta.batches (batch_id, table_name, source, loaded_at, rows, rejected, "
        "run_id, read, inputs) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)",
        [
            batch_id,
            table_name,
            source,
            now(),
            rows,
            rejected,
            run_id,
            read,
            None if inputs is None else json.dumps(inputs, sort_keys=True),
        ],
    )


def batch_inputs(con: duckdb.DuckDBPyConnection, table_name: str) -> dict[str, str | None] | None:
    """The inputs (table -> batch) the table's current batch was built from; None for a
    table loaded from a source, or built before inputs were recorded."""
    row = con.execute(
        "SELECT inputs FROM meta.batches WHERE table_name = ? ORDER BY seq DESC LIMIT 1",
        [table_name],
    ).fetchone()
    return json.loads(row[0]) if row and row[0] is not None else None
