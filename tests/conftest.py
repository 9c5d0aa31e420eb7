"""Shared fixtures: a demo project in a temporary folder, real services on 127.0.0.1."""

from __future__ import annotations

import os
import shutil
import socket
from collections.abc import Iterator
from contextlib import contextmanager
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
DEMO_FIXTURES = {"demo_project", "built_demo_template"}
"Fixtures that generate the demo or build it: a test using one (directly or not) is `slow`."


def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    """Mark every test that needs the demo `slow`, so `-m "not slow"` never builds it."""
    for item in items:
        if DEMO_FIXTURES & set(getattr(item, "fixturenames", ())):
            item.add_marker(pytest.mark.slow)


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

    def __init__(self, root: Path, *, write_config: bool = True) -> None:
        self.root = root
        self.config_path = root / "hub.yaml"
        if write_config:
            shutil.copyfile(DEMO_CONFIG, self.config_path)

    def generate(self, *, dirty: bool = False) -> dict[str, int]:
        return generate(self.root / "demo", dirty=dirty)

    @property
    def config(self) -> HubConfig:
        return load_config(self.config_path)

    @property
    def store(self) -> Store:
        return Store(self.root / "data" / "hub.duckdb", lock_timeout=30)


@contextmanager
def project_environment(project: DemoProject, monkeypatch: pytest.MonkeyPatch) -> Iterator[None]:
    """The project's Dagster home and hub.yaml in the environment, its support API up."""
    monkeypatch.setenv("DAGSTER_HOME", str(project.root / ".dagster"))
    monkeypatch.setenv("HUB_CONFIG", str(project.config_path))
    with start_support_api(project.root / "demo" / "support" / "tickets.json") as api:
        monkeypatch.setenv("SUPPORT_API_URL", api.url)
        yield


@pytest.fixture
def demo_project(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[DemoProject]:
    """A generated clean demo project whose support API runs for the test's duration."""
    project = DemoProject(tmp_path)
    project.generate()
    with project_environment(project, monkeypatch):
        yield project


@pytest.fixture(scope="session")
def built_demo_template(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The clean demo materialized once per test session (12 pending drafts)."""
    from hub.runner import materialize

    project = DemoProject(tmp_path_factory.mktemp("built-demo"))
    project.generate()
    with pytest.MonkeyPatch.context() as monkeypatch:
        for name in ("HUB_LLM_PROVIDER", "HUB_LLM_MODEL", "HUB_LLM_API_BASE", "HUB_LLM_API_KEY"):
            monkeypatch.delenv(name, raising=False)
        with project_environment(project, monkeypatch):
            report = materialize(project.config_path)
    assert report.success, report.failures
    return project.root


@pytest.fixture
def built_demo(
    built_demo_template: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> Iterator[DemoProject]:
    """A copy of the materialized clean demo, all to this test, its support API running."""
    root = tmp_path / "project"
    shutil.copytree(built_demo_template, root)
    project = DemoProject(root, write_config=False)
    with project_environment(project, monkeypatch):
        yield project
