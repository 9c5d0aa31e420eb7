"""Imports run one way: connectors, quality and hub know nothing of Dagster or `assets/`;
only `assets/` (and the code location `hub.definitions`, the resource and the runner) do."""

from __future__ import annotations

import ast
from pathlib import Path

ROOT = Path(__file__).parents[1]
DAGSTER_SIDE = {"hub/definitions.py", "hub/resource.py", "hub/runner.py", "hub/cli.py"}


def imported(path: Path) -> set[str]:
    names = set()
    for node in ast.walk(ast.parse(path.read_text())):
        if isinstance(node, ast.Import):
            names |= {alias.name.split(".")[0] for alias in node.names}
        elif isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
            names.add(node.module.split(".")[0])
    return names


def test_only_the_dagster_layer_imports_dagster() -> None:
    offenders = [
        path.relative_to(ROOT).as_posix()
        for folder in ("connectors", "quality", "hub")
        for path in sorted((ROOT / folder).rglob("*.py"))
        if path.relative_to(ROOT).as_posix() not in DAGSTER_SIDE
        and imported(path) & {"dagster", "assets"}
    ]
    assert offenders == []
