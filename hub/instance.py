"""The project's Dagster instance: `dagster.yaml` beside hub.yaml, run history in `.dagster/`.

`hub run`, `hub ui` and `dagster dev -w workspace.yaml` started in the project folder all
read this file, so they share one run history. (`dagster dev` without `$DAGSTER_HOME` reads
`dagster.yaml` from the folder it starts in; its storage paths here are absolute, so its
temporary home holds nothing that matters.) Telemetry and the first-visit dialog are off.
`$DAGSTER_HOME`, when set, wins.
"""

from __future__ import annotations

import os
from pathlib import Path

INSTANCE_FILE = "dagster.yaml"
HISTORY_FOLDER = ".dagster"


QUIET = "telemetry:\n  enabled: false\nnux:\n  enabled: false\n"
"What a `$DAGSTER_HOME` without a dagster.yaml gets: no telemetry, no first-visit dialog."


def instance_yaml(root: Path) -> str:
    history = (root / HISTORY_FOLDER).resolve()
    return f"""\
# Dagster's instance for this Groundwork project, written by `hub` (edit freely).
# `hub run`, `hub ui` and `dagster dev -w workspace.yaml` run here share this run history.
storage:
  sqlite:
    base_dir: {history}
local_artifact_storage:
  module: dagster._core.storage.root
  class: LocalArtifactStorage
  config:
    base_dir: {history}
compute_logs:
  module: dagster._core.storage.local_compute_log_manager
  class: LocalComputeLogManager
  config:
    base_dir: {history / "logs"}
# A run launched from the UI starts at once instead of waiting for the queue's next tick.
run_coordinator:
  module: dagster._core.run_coordinator
  class: DefaultRunCoordinator
# A run whose worker died (killed, machine restarted) is failed after its `dagster/max_runtime`
# (signup runs set one), so new_signups_sensor can run that client again.
run_monitoring:
  enabled: true
  poll_interval_seconds: 30
telemetry:
  enabled: false
nux:
  enabled: false
"""


def ensure_instance(root: Path) -> Path:
    """`$DAGSTER_HOME` for this project: the one set in the environment, or the project
    folder with its `dagster.yaml` (written when missing, or when the project moved)."""
    if home := os.environ.get("DAGSTER_HOME"):
        path = Path(home) / INSTANCE_FILE
        path.parent.mkdir(parents=True, exist_ok=True)
        if not path.exists() or not path.read_text().strip():
            path.write_text(QUIET)
        return Path(home)
    root = root.resolve()
    path = root / INSTANCE_FILE
    if not path.exists() or _moved(path, root):
        path.write_text(instance_yaml(root))
    (root / HISTORY_FOLDER).mkdir(exist_ok=True)
    os.environ["DAGSTER_HOME"] = str(root)
    return root


def _moved(path: Path, root: Path) -> bool:
    """A dagster.yaml written by hub whose history is in another folder (a copied project)."""
    text = path.read_text()
    ours = text.startswith("# Dagster's instance for this Groundwork project")
    return ours and f"base_dir: {(root / HISTORY_FOLDER).resolve()}\n" not in text
