"""Helpers for the source tests: a project in a folder, loaded table by table, and an HTTP
server on 127.0.0.1 whose answers each test writes."""

from __future__ import annotations

import json
import threading
import time
from collections.abc import Callable
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any
from urllib.parse import parse_qs, urlsplit

import duckdb
import yaml

from hub.config import load_config
from hub.load import LoadResult, load_table
from hub.store import Store


class Project:
    """A hub.yaml with the given sources, its store, and one-line loads and queries."""

    def __init__(self, root: Path, sources: dict[str, Any], **sections: Any) -> None:
        self.root = root
        self.write(sources, **sections)

    def write(self, sources: dict[str, Any], **sections: Any) -> None:
        """hub.yaml with these sources and other sections (`checks`, `entities`, ...)."""
        document = {"sources": sources, **sections}
        (self.root / "hub.yaml").write_text(yaml.safe_dump(document, sort_keys=False))

    @property
    def store(self) -> Store:
        return Store(self.root / "data" / "hub.duckdb", lock_timeout=10)

    def load(self, source: str, table: str, **options: Any) -> LoadResult:
        return load_table(load_config(self.root / "hub.yaml"), self.store, source, table, **options)

    def sql(self, query: str, params: list[Any] | None = None) -> list[tuple]:
        con = duckdb.connect(str(self.store.path), read_only=True)
        try:
            return con.execute(query, params).fetchall()
        finally:
            con.close()

    def types(self, table: str) -> dict[str, str]:
        schema, name = table.split(".")
        return dict(
            self.sql(
                "SELECT column_name, data_type FROM information_schema.columns "
                "WHERE table_schema = ? AND table_name = ? AND column_name NOT LIKE '\\_hub%' "
                "ESCAPE '\\'",
                [schema, name],
            )
        )


Reply = tuple[int, dict[str, str], bytes]
Route = Callable[[dict[str, list[str]], int], Reply | Callable[[Any], None]]


class FakeAPI:
    """An HTTP server on 127.0.0.1: `routes[path](query, hit)` answers with (status, headers,
    body), or with a function that writes to the raw handler (to misbehave on purpose)."""

    def __init__(self, routes: dict[str, Route]) -> None:
        self.routes = routes
        self.hits: list[str] = []
        self.headers: list[dict[str, str]] = []
        api = self

        class Handler(BaseHTTPRequestHandler):
            def do_GET(self) -> None:  # noqa: N802 - http.server's name
                parts = urlsplit(self.path)
                api.hits.append(self.path)
                api.headers.append(dict(self.headers))
                route = api.routes.get(parts.path)
                if route is None:
                    self.send_error(404)
                    return
                reply = route(parse_qs(parts.query), len(api.hits))
                if callable(reply):
                    reply(self)
                    return
                status, headers, body = reply
                self.send_response(status)
                for key, value in {"Content-Length": str(len(body)), **headers}.items():
                    self.send_header(key, value)
                self.end_headers()
                self.wfile.write(body)

            def log_message(self, *args: Any) -> None:
                pass

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.url = f"http://127.0.0.1:{self.server.server_address[1]}"
        self.thread = threading.Thread(target=self.server.serve_forever, daemon=True)

    def __enter__(self) -> FakeAPI:
        self.thread.start()
        return self

    def __exit__(self, *_: object) -> None:
        self.server.shutdown()
        self.server.server_close()


def as_json(value: Any, status: int = 200, **headers: str) -> Reply:
    return status, {"Content-Type": "application/json", **headers}, json.dumps(value).encode()


def trickle(handler: Any) -> None:
    """Send headers, then one byte every 0.5 s: never a read timeout, never an end."""
    handler.send_response(200)
    handler.send_header("Content-Type", "application/json")
    handler.end_headers()
    try:
        for char in '[{"id": 1}' + " " * 100 + "]":
            handler.wfile.write(char.encode())
            handler.wfile.flush()
            time.sleep(0.5)
    except OSError:
        pass
