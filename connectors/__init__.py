"""Connectors read siloed sources into Arrow tables, one module per source kind.

Every module exposes the same function, `read(source, name, table, config, root) -> Extract`;
`hub.load` adds lineage columns and writes the result into `raw.<source>__<table>` in one
transaction. Adding a source kind means adding one module named after the kind.
"""

from __future__ import annotations

import importlib

from connectors.base import Extract, Reject, SourceReadError

__all__ = ["Extract", "Reject", "SourceReadError", "reader_for"]


def reader_for(kind: str):  # noqa: ANN201 - returns the module's `read` function
    """The `read` function of the connector module for this source kind."""
    return importlib.import_module(f"connectors.{kind}").read
