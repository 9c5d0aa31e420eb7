"""What every connector returns: the rows it could read and the ones it had to reject."""

from __future__ import annotations

import re
import urllib.parse
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


_SECRET_KEY = re.compile(r"(?i)(pass|secret|token|key|auth|sig|credential)")


def redact_url(url: str) -> str:
    """The URL as logs, lineage and errors may show it: the password and the values of
    secret-looking query parameters (`token`, `api_key`, `sslpassword`, ...) become `***`."""
    parts = urllib.parse.urlsplit(url)
    pairs = urllib.parse.parse_qsl(parts.query, keep_blank_values=True)
    if not parts.password and not any(_SECRET_KEY.search(k) for k, _ in pairs):
        return url
    netloc = parts.netloc
    if parts.password:
        user, _, host = netloc.rpartition("@")
        netloc = f"{user.partition(':')[0]}:***@{host}"
    query = urllib.parse.urlencode(
        [(k, "***" if _SECRET_KEY.search(k) else v) for k, v in pairs],
        safe="*/",
    )
    return urllib.parse.urlunsplit(parts._replace(netloc=netloc, query=query))
