"""The UI path: the demo graph launched from the Dagster UI, against the same graph from the
CLI, measured in the same project.

`hub ui` starts `dagster dev` on the project (its dagster.yaml, the code location with its
executor, the demo API); the run is submitted through the UI's own GraphQL API and timed
from submission until Dagster records its end. The CLI's time is the whole `hub run`
command. Each is timed twice and the better kept (the first run of an instance creates its
databases).
"""

from __future__ import annotations

import os
import signal
import socket
import subprocess
import sys
import time
from pathlib import Path

from benchmarks.sources import timed

JOB = "all_assets"


def ui_run(root: Path, rows: int) -> dict[str, float]:
    from hub.demo.generate import generate

    hub_cli = str(Path(sys.executable).with_name("hub"))
    demo = Path(__file__).resolve().parent.parent / "hub" / "demo"
    (root / "hub.yaml").write_text((demo / "hub.yaml").read_text())
    generate(root / "demo")
    env = {k: v for k, v in os.environ.items() if k not in ("DAGSTER_HOME", "SUPPORT_API_URL")}
    env["HUB_CONFIG"] = str(root / "hub.yaml")
    cli = lambda: subprocess.run([hub_cli, "run"], cwd=root, env=env, capture_output=True)  # noqa: E731
    cli_seconds = min(timed(cli), timed(cli))
    port = _free_port()
    ui = subprocess.Popen(  # noqa: S603
        [hub_cli, "ui", "--port", str(port)],
        cwd=root,
        env=env,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
        start_new_session=True,
    )
    try:
        client = _client(port)
        ui_seconds = min(_launch_and_wait(client), _launch_and_wait(client))
    finally:
        os.killpg(ui.pid, signal.SIGTERM)
        ui.wait(timeout=60)
    return {"a run launched from the UI": ui_seconds, "hub run (the CLI)": cli_seconds}


def _launch_and_wait(client) -> float:  # noqa: ANN001 - DagsterGraphQLClient
    from dagster_graphql import DagsterGraphQLClientError

    started = time.perf_counter()
    run_id = client.submit_job_execution(JOB)
    while True:
        try:
            status = client.get_run_status(run_id).value
        except DagsterGraphQLClientError:
            status = "STARTING"
        if status in ("SUCCESS", "FAILURE", "CANCELED"):
            break
        time.sleep(0.2)
    seconds = time.perf_counter() - started
    if status != "SUCCESS":
        raise RuntimeError(f"the run launched from the UI ended {status} (run {run_id})")
    return seconds


def _client(port: int, timeout: float = 120.0):  # noqa: ANN202
    """A GraphQL client once the UI serves the code location."""
    from dagster_graphql import DagsterGraphQLClient

    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        try:
            client = DagsterGraphQLClient("127.0.0.1", port_number=port, timeout=30)
            client._get_repo_locations_and_names_with_pipeline(JOB)  # noqa: SLF001 - loaded yet?
            return client
        except Exception:  # noqa: BLE001 - not up yet
            time.sleep(1)
    raise RuntimeError(f"the Dagster UI did not serve job {JOB} on port {port} in {timeout} s")


def _free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]
