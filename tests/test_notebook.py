"""notebooks/explore.ipynb runs top to bottom against the built demo, as a data person runs it:
from the project's `notebooks/` folder, finding the project's hub.yaml by itself."""

from __future__ import annotations

import base64
import json
import sys
from pathlib import Path

import nbformat
import pytest
from jupyter_client.kernelspec import KernelSpecManager
from jupyter_client.manager import KernelManager
from nbclient import NotebookClient
from nbformat import NotebookNode

import hub

NOTEBOOK = Path(__file__).resolve().parents[1] / "notebooks" / "explore.ipynb"


def kernel_manager(kernels: Path) -> KernelManager:
    """An ipykernel on this interpreter (.venv's), whatever kernelspecs the machine has."""
    spec = kernels / "groundwork"
    spec.mkdir(parents=True)
    argv = [sys.executable, "-m", "ipykernel_launcher", "-f", "{connection_file}"]
    spec.joinpath("kernel.json").write_text(
        json.dumps({"argv": argv, "display_name": "Groundwork", "language": "python"})
    )
    specs = KernelSpecManager(kernel_dirs=[str(kernels)])
    return KernelManager(kernel_name="groundwork", kernel_spec_manager=specs)


def cell_with(nb: NotebookNode, text: str) -> NotebookNode:
    """The one code cell whose source contains `text`."""
    cells = [c for c in nb.cells if c.cell_type == "code" and text in c.source]
    assert len(cells) == 1, f"{len(cells)} code cells contain {text!r}"
    return cells[0]


def shown(cell: NotebookNode, mime: str = "text/html") -> str:
    """What the cell printed and displayed: its streams and its `mime` outputs."""
    parts = [o.text for o in cell.outputs if o.output_type == "stream"]
    parts += [o.data[mime] for o in cell.outputs if mime in o.get("data", {})]
    return "\n".join(parts)


@pytest.fixture
def executed(built_demo, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> NotebookNode:
    """The notebook run in `<project>/notebooks` with no $HUB_CONFIG, like a fresh Jupyter."""
    monkeypatch.delenv("HUB_CONFIG")
    monkeypatch.setenv("MPLBACKEND", "agg")  # the notebook's `%matplotlib inline` must win
    folder = built_demo.root / "notebooks"
    folder.mkdir()
    nb = nbformat.read(NOTEBOOK, as_version=4)
    client = NotebookClient(
        nb,
        km=kernel_manager(tmp_path / "kernels"),
        timeout=300,
        resources={"metadata": {"path": str(folder)}},
    )
    client.execute()  # raises CellExecutionError, with the cell and traceback, if one fails
    return nb


def test_notebook_is_committed_without_outputs():
    nb = nbformat.read(NOTEBOOK, as_version=4)
    nbformat.validate(nb)
    code = [c for c in nb.cells if c.cell_type == "code"]
    assert code and all(not c.outputs and c.execution_count is None for c in code)


def test_notebook_explores_the_built_demo(executed: NotebookNode, built_demo):
    config = str(built_demo.config_path)
    outputs = [o for c in executed.cells if c.cell_type == "code" for o in c.outputs]
    assert not [o for o in outputs if o.output_type == "error"]

    # It found the project's hub.yaml from notebooks/, one folder down.
    assert f"project: {built_demo.config_path}" in shown(cell_with(executed, "hub.tables()"))

    per_source = shown(cell_with(executed, "per_source = "))
    sources = hub.sql(
        "SELECT DISTINCT source FROM unified.customer_xref", audience="steward", config=config
    )["source"]
    assert len(sources) == 3 and all(f"<td>{s}</td>" in per_source for s in sources)
    matched_on = shown(cell_with(executed, "matched_on = "))
    assert all(f"<th>{kind}</th>" in matched_on for kind in ("email", "name", "new"))

    [image] = [
        o.data["image/png"]
        for o in cell_with(executed, "history = ").outputs
        if "image/png" in o.get("data", {})
    ]
    assert base64.b64decode(image).startswith(b"\x89PNG")
    assert "0 failed verdicts" in shown(cell_with(executed, "failing = "))

    pending = hub.sql(
        "SELECT draft_id FROM agents.drafts WHERE status = 'pending'",
        audience="steward",
        config=config,
    )["draft_id"]
    drafts = shown(cell_with(executed, "drafts = "))
    assert len(pending) == 12 and f"{len(pending)} pending drafts" in drafts
    assert all(f"<td>{draft_id}</td>" in drafts for draft_id in pending)
