"""Imports run one way (STYLE.md): `connectors/` and `quality/` know nothing of the Dagster
layer, not even through the `hub` modules they use, and the rest of the product reaches
connectors only through their public API (`connectors.__all__` and the shared interface in
`connectors.base`), never a connector kind's module or a private name.

Every import counts: `import x`, `from x import y`, relative imports, imports inside functions
and `importlib.import_module("x")` with a literal name.
"""

from __future__ import annotations

import ast
from functools import cache
from pathlib import Path

ROOT = Path(__file__).parents[1]
PACKAGES = ("connectors", "quality", "hub", "assets")
DAGSTER_LAYER = ("dagster", "assets", "hub.definitions", "hub.runner", "hub.resource", "hub.cli")
"Dagster itself (and its `dagster_*` libraries), the assets, and the hub modules built on them."
CONNECTORS_PUBLIC = ("connectors", "connectors.base")
"The modules anyone may import from (`connectors.base`: what every connector shares)."


@cache
def modules(root: Path) -> dict[str, Path]:
    """Every module of the product: dotted name -> file."""
    found = {}
    for package in PACKAGES:
        for path in sorted((root / package).rglob("*.py")):
            parts = path.relative_to(root).with_suffix("").parts
            found[".".join(parts[:-1] if parts[-1] == "__init__" else parts)] = path
    return found


@cache
def imports_of(root: Path, module: str) -> frozenset[str]:
    """Dotted names the module imports; `from a import b` gives `a` and `a.b`."""
    path = modules(root)[module]
    package = module if path.name == "__init__.py" else module.rpartition(".")[0]
    found = set()
    for node in ast.walk(ast.parse(path.read_text(), str(path))):
        if isinstance(node, ast.Import):
            found |= {alias.name for alias in node.names}
        elif isinstance(node, ast.ImportFrom):
            base = node.module or ""
            if node.level:
                anchor = ".".join(package.split(".")[: len(package.split(".")) - node.level + 1])
                base = f"{anchor}.{base}".strip(".")
            found.add(base)
            found |= {f"{base}.{alias.name}" for alias in node.names}
        elif (
            isinstance(node, ast.Call)
            and getattr(node.func, "attr", getattr(node.func, "id", None)) == "import_module"
            and node.args
            and isinstance(node.args[0], ast.Constant)
        ):
            found.add(str(node.args[0].value))
    return frozenset(found)


def reachable(root: Path, module: str) -> dict[str, str]:
    """Every name the module imports, directly or through the product's modules it imports,
    with the chain of imports that reaches it."""
    chains = {module: module}
    todo = [module]
    while todo:
        current = todo.pop()
        for name in sorted(imports_of(root, current)):
            if name not in chains:
                chains[name] = f"{chains[current]} -> {name}"
                if name in modules(root):
                    todo.append(name)
    return chains


def in_dagster_layer(name: str) -> bool:
    return name.split(".")[0].startswith("dagster_") or any(
        name == layer or name.startswith(layer + ".") for layer in DAGSTER_LAYER
    )


def dagster_reached(root: Path) -> list[str]:
    """Chains by which a module of connectors/ or quality/ reaches the Dagster layer."""
    return sorted(
        chain
        for module in modules(root)
        if module.split(".")[0] in ("connectors", "quality")
        for name, chain in reachable(root, module).items()
        if in_dagster_layer(name)
    )


def connector_internals_used(root: Path) -> list[str]:
    """Imports of connector kinds' modules or private names from outside `connectors/`."""
    tree = ast.parse((root / "connectors" / "__init__.py").read_text())
    exported = next(
        ast.literal_eval(node.value)
        for node in tree.body
        if isinstance(node, ast.Assign) and getattr(node.targets[0], "id", "") == "__all__"
    )
    public = {*CONNECTORS_PUBLIC, *(f"connectors.{name}" for name in exported)}
    return sorted(
        f"{module} imports {name}"
        for module in modules(root)
        if module.split(".")[0] != "connectors"
        for name in imports_of(root, module)
        if name.split(".")[0] == "connectors"
        and name not in public
        and not (name.startswith("connectors.base.") and not name.split(".")[-1].startswith("_"))
    )


def test_connectors_and_quality_never_reach_the_dagster_layer() -> None:
    assert dagster_reached(ROOT) == []


def test_the_rest_of_the_product_uses_only_the_connectors_public_api() -> None:
    assert connector_internals_used(ROOT) == []


def test_the_checks_see_every_kind_of_import(tmp_path: Path) -> None:
    """The two rules on a made-up project holding each form of import they must catch."""
    files = {
        "connectors/__init__.py": "__all__ = ['Extract', 'reader_for']\n",
        "connectors/base.py": "def _helper(): ...\n",
        "quality/__init__.py": "",
        "quality/late.py": "def f():\n    from hub.runner import materialize\n",
        "quality/relative.py": "from . import late\n",
        "quality/dynamic.py": "import importlib\nimportlib.import_module('dagster')\n",
        "quality/through.py": "from hub import helper\n",
        "hub/helper.py": "import dagster_duckdb\n",
        "hub/fine.py": "from connectors import reader_for\nfrom connectors.base import Table\n",
        "assets/inside.py": "from connectors.sql import _install\nfrom connectors import files\n",
        "assets/private.py": "from connectors.base import _helper\n",
    }
    for name, text in files.items():
        (tmp_path / name).parent.mkdir(parents=True, exist_ok=True)
        (tmp_path / name).write_text(text)

    assert dagster_reached(tmp_path) == [
        "quality.dynamic -> dagster",
        "quality.late -> hub.runner",
        "quality.late -> hub.runner.materialize",
        "quality.relative -> quality.late -> hub.runner",
        "quality.relative -> quality.late -> hub.runner.materialize",
        "quality.through -> hub.helper -> dagster_duckdb",
    ]
    assert connector_internals_used(tmp_path) == [
        "assets.inside imports connectors.files",
        "assets.inside imports connectors.sql",
        "assets.inside imports connectors.sql._install",
        "assets.private imports connectors.base._helper",
    ]
