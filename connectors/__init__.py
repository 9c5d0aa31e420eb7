"""Connectors read siloed sources, one module per source kind.

Every module (`connectors/<kind>.py`) holds its config models (`Source`, selected in hub.yaml
by `kind`, and its `Table`) and the same function, `read(source, name, table, config, root,
since) -> Extract`; `hub.load` runs the read inside the store's load transaction. Adding a
source kind means adding one module named after the kind; nothing else lists kinds.
"""

from __future__ import annotations

import importlib
import pkgutil
from functools import cache

from connectors.base import Extract, Reject, SourceBase, SourceReadError

__all__ = ["Extract", "Reject", "SourceBase", "SourceReadError", "reader_for", "source_models"]


def reader_for(kind: str):  # noqa: ANN201 - returns the module's `read` function
    """The `read` function of the connector module for this source kind."""
    return importlib.import_module(f"connectors.{kind}").read


@cache
def source_models() -> tuple[type[SourceBase], ...]:
    """The `Source` model of every connector module, for hub.yaml's `kind:`."""
    found = []
    for module in pkgutil.iter_modules(__path__):
        loaded = importlib.import_module(f"connectors.{module.name}")
        model = getattr(loaded, "Source", None)
        if isinstance(model, type) and issubclass(model, SourceBase):
            found.append(model)
    return tuple(found)
