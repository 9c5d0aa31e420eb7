"""The demo story: client onboarding across siloed systems.

`generate` writes the sources under `demo/`, `support_api` serves the support desk's tickets
over HTTP, and `hub.yaml` beside this file is the demo project's configuration.
"""

from __future__ import annotations

import os
import socket
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from hub.demo.support_api import SupportAPI

DEMO_CONFIG = Path(__file__).with_name("hub.yaml")
SOURCES_FOLDER = "demo"
SUPPORT_API_PORT = 8765
SUPPORT_API_ENV = "SUPPORT_API_URL"


@contextmanager
def demo_services(root: Path) -> Iterator[str | None]:
    """Serve the demo support API while the block runs, if this project has demo data.

    Uses port 8765 (the default in the demo hub.yaml) when it is free, else any free port
    and `$SUPPORT_API_URL`. Does nothing when `$SUPPORT_API_URL` is already set.
    """
    api = start_demo_services(root)
    if api is None:
        yield os.environ.get(SUPPORT_API_ENV)
        return
    with api:
        try:
            yield api.url
        finally:
            os.environ.pop(SUPPORT_API_ENV, None)


def start_demo_services(root: Path) -> SupportAPI | None:
    """Start the demo support API for this process and the processes it starts (a daemon
    thread; `$SUPPORT_API_URL` names it), if this project has demo data and none is set.
    The code location calls it, so `dagster dev -w workspace.yaml` needs nothing else."""
    from hub.demo.support_api import start_support_api

    tickets = root / SOURCES_FOLDER / "support" / "tickets.json"
    if SUPPORT_API_ENV in os.environ or not tickets.exists():
        return None
    port = SUPPORT_API_PORT if _port_free(SUPPORT_API_PORT) else 0
    api = start_support_api(tickets, port=port)
    os.environ[SUPPORT_API_ENV] = api.url
    return api


def _port_free(port: int) -> bool:
    with socket.socket() as probe:
        try:
            probe.bind(("127.0.0.1", port))
        except OSError:
            return False
    return True
