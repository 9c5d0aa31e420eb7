"""Shared fixtures: a demo project in a temporary folder, real services on 127.0.0.1."""

from __future__ import annotations

import os
import shutil
import socket
from collections.abc import Iterator
from pathlib import Path

import pandas as pd
import pytest

import hub
from hub.config import HubConfig, load_config
from hub.demo import DEMO_CONFIG
from hub.demo.generate import generate
from hub.demo.support_api import start_support_api
from hub.store import Store

REQUIRE_SERVICES = os.environ.get("HUB_REQUIRE_SERVICES") == "1"


def steward(query: str, params: list | None = None) -> pd.DataFrame:
    """`hub.sql` as the steward: the whole store, in clear (what the tests look at)."""
    return hub.sql(query, params, audience="steward")


def require_service(name: str, host: str, port: int) -> None:
    """Skip (or, in CI, fail) when a service the test needs is not listening."""
    try:
        socket.create_connection((host, port), timeout=2).close()
    except OSError as exc:
        message = f"{name} is not reachable on {host}:{port} ({exc})"
        if REQUIRE_SERVICES:
            pytest.fail(f"{message}; HUB_REQUIRE_SERVICES=1 requires it")
        pytest.skip(message)


class DemoProject:
    """The demo project copied into a temporary folder, with its own store and sources."""

    def __init__(self, root: Path) -> None:
        self.root = root
        self.config_path = root / "hub.yaml"
        shutil.copyfile(DEMO_CONFIG, self.config_path)

    def generate(self, *, dirty: bool = False) -> dict[str, int]:
        return generate(self.root / "demo", dirty=dirty)

    @property
    def config(self) -> HubConfig:
        return load_config(self.config_path)

    @property
    def store(self) -> Store:
        return Store(self.root / "data" / "hub.duckdb", lock_timeout=30)


@pytest.fixture
def demo_project(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[DemoProject]:
    """A generated clean demo project whose support API runs for the test's duration."""
    project = DemoProject(tmp_path)
    project.generate()
    monkeypatch.setenv("DAGSTER_HOME", str(tmp_path / ".dagster"))
    monkeypatch.setenv("HUB_CONFIG", str(project.config_path))
    with start_support_api(tmp_path / "demo" / "support" / "tickets.json") as api:
        monkeypatch.setenv("SUPPORT_API_URL", api.url)
        yield project
