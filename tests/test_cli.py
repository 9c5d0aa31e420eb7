"""The CLI and the docs: every command has help and is in the README; errors are clear."""

from __future__ import annotations

import json
import os
import re
import signal
import socket
import subprocess
import sys
import time
import urllib.request
from pathlib import Path

import pytest
import typer

from hub.cli import app
from hub.demo import DEMO_CONFIG

ROOT = Path(__file__).parents[1]
README = (ROOT / "README.md").read_text()


def commands() -> dict[str, object]:
    group = typer.main.get_command(app)
    found = {}
    for name, command in group.commands.items():
        sub = getattr(command, "commands", None)
        if sub:
            found.update({f"{name} {n}": c for n, c in sub.items()})
        else:
            found[name] = command
    return found


@pytest.mark.parametrize("name", sorted(commands()))
def test_every_command_has_help_and_is_documented(name: str) -> None:
    command = commands()[name]
    assert (command.help or "").strip(), f"hub {name} has no help text"
    assert f"hub {name}" in README, f"hub {name} is not in README.md"


def test_readme_two_commands_and_ci_runs_the_test_command() -> None:
    assert "python3 dev.py demo" in README and "python3 dev.py test" in README
    assert re.search(r"^exec python3 dev.py test$", (ROOT / ".ci/run").read_text(), re.M)


def hub_cli(*args: str, cwd: Path, env: dict[str, str] | None = None):
    return subprocess.run(
        [sys.executable, "-m", "hub.cli", *args],
        cwd=cwd,
        capture_output=True,
        text=True,
        env={**os.environ, **(env or {})},
        timeout=120,
    )


def test_init_writes_a_starter_and_errors_are_one_clear_line(tmp_path: Path) -> None:
    env = {"HUB_CONFIG": str(tmp_path / "hub.yaml"), "CRM_PASSWORD": "x"}
    assert hub_cli("init", cwd=tmp_path, env=env).returncode == 0
    again = hub_cli("init", cwd=tmp_path, env=env)
    assert again.returncode == 2 and "pass --force" in again.stdout
    status = hub_cli("status", cwd=tmp_path, env=env)
    assert status.returncode == 2
    assert "no store at" in status.stdout and "Traceback" not in status.stdout + status.stderr


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


@pytest.mark.slow  # starts processes that import and run Dagster
def test_hub_ui_serves_the_asset_graph(tmp_path: Path) -> None:
    port = free_port()
    env = {**os.environ, "HUB_CONFIG": str(DEMO_CONFIG), "DAGSTER_HOME": str(tmp_path)}
    ui = subprocess.Popen(
        [sys.executable, "-m", "hub.cli", "ui", "--port", str(port)],
        env=env,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
        start_new_session=True,
    )
    try:
        query = json.dumps({"query": "{ assetNodes { assetKey { path } } }"}).encode()
        deadline = time.monotonic() + 90
        while True:
            try:
                request = urllib.request.Request(
                    f"http://127.0.0.1:{port}/graphql",
                    data=query,
                    headers={"Content-Type": "application/json"},
                )
                with urllib.request.urlopen(request, timeout=5) as response:
                    nodes = json.load(response)["data"]["assetNodes"]
                if nodes:
                    break
            except (OSError, KeyError, TypeError):
                pass
            assert ui.poll() is None, "hub ui exited early"
            assert time.monotonic() < deadline, "the Dagster UI did not answer within 90 s"
            time.sleep(1)
        paths = {"/".join(n["assetKey"]["path"]) for n in nodes}
        assert {
            "raw/crm__clients",
            "unified/customer",
            "serve/clients",
            "agents/onboarding",
        } <= paths
    finally:
        os.killpg(ui.pid, signal.SIGTERM)
        try:
            ui.wait(timeout=20)
        except subprocess.TimeoutExpired:
            os.killpg(ui.pid, signal.SIGKILL)


def test_query_and_draft_commands_print_tables_and_refuse_clearly(built_demo) -> None:  # noqa: ANN001
    root = built_demo.root
    shown = hub_cli("sql", "SELECT name, email FROM unified.customer ORDER BY 1", cwd=root)
    assert shown.returncode == 0, shown.stdout + shown.stderr
    assert "13 row(s)" in shown.stdout and "@" not in shown.stdout  # hashed for the analyst
    listed = hub_cli("drafts", cwd=root)
    assert listed.returncode == 0 and "12 row(s)" in listed.stdout
    typo = hub_cli("drafts", "--status", "aproved", cwd=root)
    assert typo.returncode == 2 and "no status 'aproved'" in typo.stdout
    for bad in (["sql", "DROP TABLE agents.drafts"], ["sql", "SELECT * FROM raw.crm__clients"]):
        refused = hub_cli(*bad, cwd=root)
        assert refused.returncode == 2 and refused.stdout.startswith("error: ")
        assert "Traceback" not in refused.stdout + refused.stderr


@pytest.mark.slow  # runs the demo
def test_demo_starts_over_without_deleting_what_it_did_not_write(tmp_path: Path) -> None:
    """`hub demo` deletes the store's files and the outbox's `.eml` files, never a folder:
    an outbox that is the project folder keeps hub.yaml and the user's files."""
    config = DEMO_CONFIG.read_text().replace("  outbox: outbox", '  outbox: "."')
    (tmp_path / "hub.yaml").write_text(config)
    (tmp_path / "my_notes.txt").write_text("mine")
    (tmp_path / "old.eml").write_text("sent before")
    env = {"DAGSTER_HOME": str(tmp_path / ".dagster")}
    done = hub_cli("demo", cwd=tmp_path, env=env)
    assert "Traceback" not in done.stdout + done.stderr
    assert (tmp_path / "my_notes.txt").read_text() == "mine"
    assert (tmp_path / "hub.yaml").read_text() == config
    assert not (tmp_path / "old.eml").exists()

    folder = config.replace("  path: data/hub.duckdb", "  path: data")
    (tmp_path / "hub.yaml").write_text(folder)
    refused = hub_cli("demo", cwd=tmp_path, env=env)
    assert refused.returncode == 2 and "deletes only files" in refused.stdout
    assert (tmp_path / "data" / "hub.duckdb").exists()
