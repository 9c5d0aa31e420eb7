"""One sandbox for every reader: `hub sql`, `hub.sql()`, `hub.table()`, `hub.connect()` and
the agents' SQL tool all read through `open_sandbox`.

It is an in-memory DuckDB that attaches one database file `READ_ONLY` (an audience's
published copy, or the store for the steward), then turns off external access (no file,
no network, no ATTACH, COPY or extension), community extensions and spilling to disk, sets
its memory and thread limits, and locks the configuration so no statement can undo any of
it. A read-only connection alone is not a sandbox: from one, `ATTACH ... (READ_WRITE)` and
`COPY ... TO` still work. Queries are one SELECT statement, checked by DuckDB's parser.

Agents run their SQL in `IsolatedSandbox`, the same sandbox in a child process: DuckDB
cannot interrupt every function (a `repeat('x', 1e9)` ignores `interrupt()`), but a process
can be killed, so the time limit holds whatever the query does.
"""

from __future__ import annotations

import json
import multiprocessing
import re
import resource
import threading
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import duckdb

from hub.store import open_waiting, quote_literal

ATTACHED = "hub"
"The name the attached database has inside the sandbox (and its default catalog)."
_HEADROOM_BYTES = 1536 * 1024**2
"Address space the worker may use beyond DuckDB's memory limit (Python, DuckDB itself)."


class SandboxRefused(Exception):
    """The statement is not allowed in the sandbox; the message says what is and why."""


class SandboxQueryError(Exception):
    """The query failed (syntax, unknown table, out of memory)."""


class SandboxTimeout(SandboxQueryError):
    """The query reached its time or memory limit and its process was stopped."""


def open_sandbox(path: Path, *, memory_limit: str, threads: int) -> duckdb.DuckDBPyConnection:
    """A read-only view of one database file from which nothing else can be reached; waits
    (up to a minute) while a writer holds the file."""
    con = duckdb.connect(":memory:")
    try:
        attach = f"ATTACH {quote_literal(str(path))} AS {ATTACHED} (READ_ONLY)"
        open_waiting(path, lambda: con.execute(attach))
        con.execute(f"USE {ATTACHED}")
        for setting, value in (
            ("temp_directory", ""),
            ("memory_limit", memory_limit),
            ("threads", threads),
            ("autoinstall_known_extensions", False),
            ("autoload_known_extensions", False),
            ("allow_community_extensions", False),
            ("enable_external_access", False),
            ("lock_configuration", True),
        ):
            con.execute(f"SET {setting} = {quote_literal(str(value))}")
    except BaseException:
        con.close()
        raise
    return con


def require_one_select(con: duckdb.DuckDBPyConnection, query: str) -> None:
    """Refuse anything but exactly one SELECT (comments and hidden statements included)."""
    try:
        statements = con.extract_statements(query)
    except duckdb.Error as exc:
        raise SandboxQueryError(f"the query does not parse: {exc}") from None
    kinds = [s.type.name for s in statements]
    if kinds != ["SELECT"]:
        found = ", ".join(kinds) or "nothing"
        raise SandboxRefused(
            f"only one SELECT statement is allowed here, and this is {found}. The store is "
            "read-only from here: nothing can be attached, copied, written, installed or set. "
            "To work with your own files, use DuckDB directly on them."
        )


def run_select(
    con: duckdb.DuckDBPyConnection, query: str, params: Any = None
) -> duckdb.DuckDBPyConnection:
    """Execute one SELECT in the sandbox; a refusal by DuckDB's settings says why."""
    require_one_select(con, query)
    try:
        return con.execute(query, params)
    except (duckdb.PermissionException, duckdb.InvalidInputException) as exc:
        if "disabled" in str(exc) or "locked" in str(exc):
            raise SandboxRefused(
                f"refused by the sandbox: {exc}. Files, the network and settings are out of "
                "reach here; to work with your own files, use DuckDB directly on them."
            ) from None
        raise


def fetch_capped(
    cursor: duckdb.DuckDBPyConnection, max_rows: int, max_bytes: int
) -> tuple[list[str], list[list[Any]], bool]:
    """(columns, rows, truncated): at most `max_rows` rows and `max_bytes` bytes of JSON."""
    columns = [d[0] for d in cursor.description]
    rows: list[list[Any]] = []
    size = 2
    while len(rows) < max_rows:
        batch = cursor.fetchmany(min(256, max_rows - len(rows)))
        if not batch:
            return columns, rows, False
        for row in batch:
            size += len(json.dumps(row, default=str)) + 1
            if size > max_bytes:
                return columns, rows, True
            rows.append(list(row))
    return columns, rows, cursor.fetchone() is not None


@dataclass(frozen=True)
class Result:
    columns: list[str]
    rows: list[list[Any]]
    truncated: bool
    "More rows (or bytes) than the limits allowed; only the first ones are here."


class IsolatedSandbox:
    """The sandbox in a child process, so a time limit can always be enforced (by killing
    it) and memory is capped for the whole process, not only DuckDB's buffers."""

    def __init__(self, path: Path, *, memory_limit: str, threads: int = 1) -> None:
        self._args = (str(path), memory_limit, threads)
        self._process: Any = None
        self._pipe: Any = None
        self._lock = threading.Lock()

    def query(
        self,
        sql: str,
        params: Any = None,
        *,
        max_rows: int = 1000,
        max_bytes: int = 1 << 20,
        timeout: float = 5.0,
    ) -> Result:
        with self._lock:
            pipe = self._started()
            pipe.send((sql, params, max_rows, max_bytes))
            if not pipe.poll(timeout):
                self._stop()
                raise SandboxTimeout(f"the query was stopped at its time limit of {timeout:g}s")
            try:
                kind, payload = pipe.recv()
            except EOFError:
                self._stop()
                raise SandboxTimeout(
                    "the query's process died (it went over its memory limit)"
                ) from None
        if kind == "refused":
            raise SandboxRefused(payload)
        if kind == "error":
            raise SandboxQueryError(payload)
        return Result(*payload)

    def close(self) -> None:
        with self._lock:
            self._stop()

    def __enter__(self) -> IsolatedSandbox:
        return self

    def __exit__(self, *_: object) -> None:
        self.close()

    def _started(self) -> Any:
        if self._process is None or not self._process.is_alive():
            context = multiprocessing.get_context("spawn")
            parent, child = context.Pipe()
            self._process = context.Process(
                target=_serve, args=(child, *self._args), daemon=True, name="hub-sandbox"
            )
            self._process.start()
            child.close()
            self._pipe = parent
            kind, payload = parent.recv()
            if kind != "ready":
                self._stop()
                raise SandboxQueryError(payload)
        return self._pipe

    def _stop(self) -> None:
        if self._process is not None:
            self._process.kill()
            self._process.join()
            self._pipe.close()
        self._process = self._pipe = None


def _serve(pipe: Any, path: str, memory_limit: str, threads: int) -> None:
    """The child process: one sandbox, one query at a time, answers over the pipe."""
    limit = parse_bytes(memory_limit) + _HEADROOM_BYTES
    resource.setrlimit(resource.RLIMIT_AS, (limit, limit))
    try:
        con = open_sandbox(Path(path), memory_limit=memory_limit, threads=threads)
    except Exception as exc:  # noqa: BLE001 - reported to the parent, which raises it
        pipe.send(("error", f"cannot open the sandbox on {path}: {exc}"))
        return
    pipe.send(("ready", None))
    while True:
        try:
            sql, params, max_rows, max_bytes = pipe.recv()
        except EOFError:
            return
        try:
            cursor = run_select(con, sql, params)
            pipe.send(("ok", fetch_capped(cursor, max_rows, max_bytes)))
        except SandboxRefused as exc:
            pipe.send(("refused", str(exc)))
        except (SandboxQueryError, duckdb.Error, MemoryError) as exc:
            pipe.send(("error", str(exc)))


def parse_bytes(text: str) -> int:
    """`512MB`, `2GB`, `1GiB`, `1000000` -> bytes (DuckDB's units: KB=1000, KiB=1024)."""
    match = re.fullmatch(r"\s*([0-9.]+)\s*([KMGT]i?B|B)?\s*", text, re.IGNORECASE)
    if not match:
        raise ValueError(f"{text!r} is not a size such as 512MB or 2GB")
    number, unit = float(match.group(1)), (match.group(2) or "B").upper()
    powers = {"B": 1, "KB": 1e3, "MB": 1e6, "GB": 1e9, "TB": 1e12}
    powers |= {"KIB": 1024, "MIB": 1024**2, "GIB": 1024**3, "TIB": 1024**4}
    return int(number * powers[unit])
