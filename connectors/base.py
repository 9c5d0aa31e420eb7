"""What every connector returns: the rows it could read and the ones it had to reject."""

from __future__ import annotations

from dataclasses import dataclass, field

import pyarrow as pa

ORIGIN_COLUMN = "_hub_origin"
"Where each row came from (file, page URL, table); connectors fill it, the loader keeps it."


class SourceReadError(Exception):
    """A source could not be read at all; nothing was loaded and the last good data stays."""


@dataclass(frozen=True)
class Reject:
    where: str
    "The file and line, page or key of the rejected record."
    reason: str
    "Why it was rejected, in words a data steward can act on."
    record: str
    "The record as it was read, so nothing is lost."


@dataclass
class Extract:
    rows: pa.Table
    "Good rows, with an `_hub_origin` column."
    rejects: list[Reject] = field(default_factory=list)
    location: str = ""
    "Where the data was read from, without credentials (for logs and the audit trail)."


def with_origin(rows: pa.Table, origin: str | list[str]) -> pa.Table:
    values = origin if isinstance(origin, list) else [origin] * rows.num_rows
    return rows.append_column(ORIGIN_COLUMN, pa.array(values, pa.string()))
