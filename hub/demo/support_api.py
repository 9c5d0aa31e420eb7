"""A tiny paginated JSON API in front of the support desk's ``tickets.json`` (stdlib only).

``GET /tickets?page=N&per_page=M`` returns ``{"data": [...], "page": N, "next": "..."|null}``.
The file is re-read on every request, so regenerating the demo is picked up immediately.

Run it in the foreground with ``python -m hub.demo.support_api PATH [--port P]``.
"""

from __future__ import annotations

import argparse
import contextlib
import json
import threading
from dataclasses import dataclass
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any
from urllib.parse import parse_qs, urlsplit

DEFAULT_PER_PAGE = 5
MAX_PER_PAGE = 100


class _SupportServer(ThreadingHTTPServer):
    """HTTP server that knows where the tickets file lives."""

    daemon_threads = True

    def __init__(self, address: tuple[str, int], tickets_path: Path) -> None:
        super().__init__(address, _TicketsHandler)
        self.tickets_path = tickets_path


class _TicketsHandler(BaseHTTPRequestHandler):
    """Serves ``GET /tickets`` with page-number pagination."""

    server: _SupportServer

    def do_GET(self) -> None:
        """Answer ``/tickets`` or a JSON error."""
        url = urlsplit(self.path)
        if url.path.rstrip("/") != "/tickets":
            self._send(404, {"error": f"unknown path: {url.path}"})
            return
        query = parse_qs(url.query)
        try:
            page = int(query.get("page", ["1"])[0])
            per_page = int(query.get("per_page", [str(DEFAULT_PER_PAGE)])[0])
        except ValueError:
            self._send(400, {"error": "page and per_page must be integers"})
            return
        if page < 1 or per_page < 1:
            self._send(400, {"error": "page and per_page must be >= 1"})
            return
        per_page = min(per_page, MAX_PER_PAGE)
        try:
            tickets = json.loads(self.server.tickets_path.read_text(encoding="utf-8"))
        except (OSError, ValueError) as exc:
            self._send(500, {"error": f"cannot read tickets: {exc}"})
            return
        start = (page - 1) * per_page
        has_next = start + per_page < len(tickets)
        self._send(
            200,
            {
                "data": tickets[start : start + per_page],
                "page": page,
                "next": f"/tickets?page={page + 1}&per_page={per_page}" if has_next else None,
            },
        )

    def _send(self, status: int, body: dict[str, Any]) -> None:
        payload = json.dumps(body).encode("utf-8")
        self.send_response(status)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(payload)))
        self.end_headers()
        self.wfile.write(payload)

    def log_message(self, format: str, *args: Any) -> None:  # noqa: A002 - base signature
        """Keep the console quiet."""


@dataclass
class SupportAPI:
    """A running support API; stop it with ``stop()`` or use it as a context manager."""

    url: str
    _server: _SupportServer
    _thread: threading.Thread

    def stop(self) -> None:
        """Shut the server down and wait for its thread."""
        self._server.shutdown()
        self._server.server_close()
        self._thread.join()

    def __enter__(self) -> SupportAPI:
        return self

    def __exit__(self, *exc: object) -> None:
        self.stop()


def start_support_api(tickets_path: Path, host: str = "127.0.0.1", port: int = 0) -> SupportAPI:
    """Serve ``tickets_path`` on ``host:port`` (0 = any free port) from a daemon thread."""
    server = _SupportServer((host, port), Path(tickets_path))
    thread = threading.Thread(
        target=server.serve_forever, kwargs={"poll_interval": 0.05}, name="support-api", daemon=True
    )
    thread.start()
    bound_host, bound_port = server.server_address[:2]
    return SupportAPI(url=f"http://{bound_host}:{bound_port}", _server=server, _thread=thread)


def main(argv: list[str] | None = None) -> None:
    """Serve a tickets file in the foreground until Ctrl-C."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("tickets_path", type=Path, help="path to support/tickets.json")
    parser.add_argument("--host", default="127.0.0.1")
    parser.add_argument("--port", type=int, default=8765)
    args = parser.parse_args(argv)
    with start_support_api(args.tickets_path, args.host, args.port) as api:
        print(f"Support API on {api.url}/tickets (Ctrl-C to stop)", flush=True)
        with contextlib.suppress(KeyboardInterrupt):
            threading.Event().wait()


if __name__ == "__main__":
    main()
