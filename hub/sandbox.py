"""One sandbox for every reader: `hub sql`, `hub.sql()`, `hub.table()`, `hub.connect()` and
the agents' SQL tool all read through `open_sandbox`.

It is an in-memory DuckDB that attaches one database file `READ_ONLY` (an audience's
published copy, or the store for the steward), then turns off external access (no file,
no network, no ATTACH, COPY or extension), community extensions and spilling to disk, sets
its memory and thread limits, and locks the configuration so no statement can undo any of
it. A read-only connection alone is not a sandbox: from one, `ATTACH ... (READ_WRITE)` and
`COPY ... TO` still work. Nor is this connection handed out as it is: DuckDB keeps the
attached file and its `.wal` writable by `COPY` even with external access off, so every
statement goes through `run_select` (exactly one SELECT, checked by DuckDB's parser), and
`hub.connect()` returns a `SandboxConnection` that only runs those.

Agents run their SQL in `IsolatedSandbox`, the same sandbox in a child process: DuckDB
cannot interrupt every function (a `repeat('x', 1e9)` ignores `interrupt()`), but a process
can be killed, so the time limit holds whatever the query does.
"""

from __future__ import annotations

import json
import re
import resource
import socket
import subprocess
import sys
import threading
from dataclasses import dataclass
from multiprocessing.connection import Connection
from pathlib import Path
from typing import Any

import duckdb

from hub.store import open_waiting, quote_literal

ATTACHED = "hub"
"The name the attached database has inside the sandbox (and its default catalog)."
STARTUP_SECONDS = 30.0
"How long a new sandbox process may take to start (it imports DuckDB) before it fails."
_HEADROOM_BYTES = 1536 * 1024**2
"Address space the worker may use beyond DuckDB's memory limit (Python, DuckDB itself)."


READING_TABLE_FUNCTIONS = frozenset(
    {
        "range",
        "generate_series",
        "unnest",
        "duckdb_tables",
        "duckdb_columns",
        "duckdb_views",
        "duckdb_schemas",
        "duckdb_databases",
        "duckdb_types",
        "duckdb_constraints",
        "duckdb_indexes",
        "duckdb_keywords",
        "duckdb_functions",
        "pragma_table_info",
    }
)
"Table functions a sandboxed SELECT may call; every other one (`query()`, `enable_logging`,"
"`read_*`, `checkpoint`, ...) is refused before it runs."


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
    refused = sorted(set(_table_functions(con, query)) - READING_TABLE_FUNCTIONS)
    if refused:
        raise SandboxRefused(
            f"the table function(s) {refused} are not allowed here: a SELECT in the sandbox "
            f"reads tables and {', '.join(sorted(READING_TABLE_FUNCTIONS))}; nothing that "
            "runs SQL from text, logs, profiles, checkpoints or reads files."
        )


def _table_functions(con: duckdb.DuckDBPyConnection, query: str) -> list[str]:
    """Names of the table functions a SELECT calls, from DuckDB's own parse tree."""
    tree = json.loads(con.execute("SELECT json_serialize_sql(?)", [query]).fetchone()[0])
    found: list[str] = []
    pending: list[Any] = [tree]
    while pending:
        node = pending.pop()
        if isinstance(node, dict):
            if node.get("type") == "TABLE_FUNCTION":
                found.append(str(node.get("function", {}).get("function_name", "?")))
            pending += node.values()
        elif isinstance(node, list):
            pending += node
    return found


def run_select(
    con: duckdb.DuckDBPyConnection, query: str, params: Any = None
) -> duckdb.DuckDBPyConnection:
    """Execute one SELECT in the sandbox; a refusal or failure says why, in one message."""
    require_one_select(con, query)
    try:
        return con.execute(query, params)
    except duckdb.Error as exc:
        text = _without_install_advice(str(exc))
        if isinstance(exc, duckdb.PermissionException | duckdb.InvalidInputException) and (
            "disabled" in text or "locked" in text
        ):
            raise SandboxRefused(
                f"refused by the sandbox: {text}. Files, the network and settings are out of "
                "reach here; to work with your own files, use DuckDB directly on them."
            ) from None
        raise SandboxQueryError(text) from exc


def _without_install_advice(text: str) -> str:
    """DuckDB's error text minus its advice to install or autoload extensions, which the
    sandbox forbids."""
    kept = [
        line
        for line in text.splitlines()
        if not re.search(r"(?i)\b(INSTALL|LOAD)\b\s+\w+|autoinstall|autoload", line)
    ]
    return "\n".join(kept).strip()


class SandboxConnection:
    """What `hub.connect()` returns: the sandbox, one SELECT at a time, results fetched.
    It guards against SQL, not against the Python process holding it: code that can reach
    its private parts could as well open the database files itself; file permissions are
    the boundary there."""

    def __init__(self, con: duckdb.DuckDBPyConnection) -> None:
        self._con = con
        self._cursor: duckdb.DuckDBPyConnection | None = None

    def execute(self, query: str, params: Any = None) -> SandboxConnection:
        self._cursor = run_select(self._con, query, params)
        return self

    sql = execute

    @property
    def description(self) -> Any:
        return self._result.description

    def fetchall(self) -> list[tuple[Any, ...]]:
        return self._result.fetchall()

    def fetchone(self) -> tuple[Any, ...] | None:
        return self._result.fetchone()

    def fetchmany(self, size: int = 1) -> list[tuple[Any, ...]]:
        return self._result.fetchmany(size)

    def df(self) -> Any:
        return self._result.df()

    def arrow(self) -> Any:
        return self._result.fetch_arrow_table()

    def close(self) -> None:
        self._con.close()

    def __enter__(self) -> SandboxConnection:
        return self

    def __exit__(self, *_: object) -> None:
        self.close()

    @property
    def _result(self) -> duckdb.DuckDBPyConnection:
        if self._cursor is None:
            raise SandboxQueryError('nothing to fetch: run `execute("SELECT ...")` first')
        return self._cursor


def fetch_capped(
    cursor: duckdb.DuckDBPyConnection, max_rows: int, max_bytes: int
) -> tuple[list[str], list[list[Any]], bool]:
    """(columns, rows, truncated): at most `max_rows` rows and `max_bytes` bytes, counted as
    the JSON objects (column names included) the rows become."""
    columns = [d[0] for d in cursor.description]
    if len(json.dumps(columns)) > max_bytes:
        raise SandboxRefused(
            f"the result's column names alone are over the limit of {max_bytes} bytes"
        )
    rows: list[list[Any]] = []
    size = 2
    while len(rows) < max_rows:
        batch = cursor.fetchmany(min(256, max_rows - len(rows)))
        if not batch:
            return columns, rows, False
        for row in batch:
            size += len(json.dumps(dict(zip(columns, row, strict=True)), default=str)) + 2
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
            pipe = self._started(timeout)
            pipe.send((sql, params, max_rows, max_bytes))
            if not pipe.poll(timeout):
                self._stop()
                raise SandboxTimeout(f"the query was stopped at its time limit of {timeout:g}s")
            try:
                kind, payload = pipe.recv()
            except (EOFError, OSError):
                self._stop()
                raise SandboxTimeout(
                    "the query's process ended before it answered (most often: it went over "
                    "its memory limit)"
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

    def _started(self, timeout: float) -> Connection:
        """The running child, started if need be: `python -m hub.sandbox`, talking over a
        socket pair (not `multiprocessing`, which re-imports the caller's `__main__`)."""
        if self._process is not None and self._process.poll() is None:
            return self._pipe
        self._stop()
        parent, child = socket.socketpair()
        try:
            process = subprocess.Popen(  # noqa: S603 - our own module, no shell
                [sys.executable, "-m", "hub.sandbox", str(child.fileno()), *map(str, self._args)],
                pass_fds=[child.fileno()],
                stdin=subprocess.DEVNULL,
            )
        except OSError as exc:
            parent.close()
            raise SandboxQueryError(f"the sandbox's process could not start ({exc})") from None
        finally:
            child.close()
        self._process, self._pipe = process, Connection(parent.detach())
        try:
            if not self._pipe.poll(max(timeout, STARTUP_SECONDS)):
                raise SandboxQueryError("the sandbox's process did not start in time")
            kind, payload = self._pipe.recv()
        except (EOFError, OSError) as exc:
            self._stop()
            raise SandboxQueryError(f"the sandbox's process could not start ({exc!r})") from None
        except SandboxQueryError:
            self._stop()
            raise
        if kind != "ready":
            self._stop()
            raise SandboxQueryError(payload)
        return self._pipe

    def _stop(self) -> None:
        process, pipe = self._process, self._pipe
        self._process = self._pipe = None
        if process is not None:
            process.kill()
            process.wait()
        if pipe is not None:
            pipe.close()


def _serve(pipe: Connection, path: str, memory_limit: str, threads: int) -> None:
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
        except Exception as exc:  # noqa: BLE001 - anything else is the query's failure too
            pipe.send(("error", f"{type(exc).__name__}: {exc}"))


def parse_bytes(text: str) -> int:
    """`512MB`, `2GB`, `1GiB`, `1000000` -> bytes (DuckDB's units: KB=1000, KiB=1024)."""
    match = re.fullmatch(r"\s*([0-9.]+)\s*([KMGT]i?B|B)?\s*", text, re.IGNORECASE)
    if not match:
        raise ValueError(f"{text!r} is not a size such as 512MB or 2GB")
    number, unit = float(match.group(1)), (match.group(2) or "B").upper()
    powers = {"B": 1, "KB": 1e3, "MB": 1e6, "GB": 1e9, "TB": 1e12}
    powers |= {"KIB": 1024, "MIB": 1024**2, "GIB": 1024**3, "TIB": 1024**4}
    return int(number * powers[unit])


if __name__ == "__main__":  # the child of IsolatedSandbox: fd, path, memory limit, threads
    _serve(Connection(int(sys.argv[1])), sys.argv[2], sys.argv[3], int(sys.argv[4]))
