"""REST/JSON APIs: follow the `next` link page by page, rows under a declared key.

A record that is not a JSON object is rejected with its page; an unreachable API or a page
that is not the expected JSON fails the whole load, so a partial read is never applied.
"""

from __future__ import annotations

import http.client
import json
import urllib.error
import urllib.parse
import urllib.request
from pathlib import Path

import pyarrow as pa

from connectors.base import Extract, Reject, SourceReadError, with_origin
from hub import secrets
from hub.config import SourceConfig, TableConfig
from hub.secrets import redact_url

TIMEOUT_SECONDS = 30
MAX_PAGES = 10_000


def read(source: SourceConfig, name: str, table: str, config: TableConfig, root: Path) -> Extract:
    base = (source.url or "").rstrip("/") + "/"
    first = urllib.parse.urljoin(base, (config.path or table).lstrip("/"))
    separator = "&" if "?" in first else "?"
    url: str | None = f"{first}{separator}per_page={source.page_size}"
    records: list[dict] = []
    origins: list[str] = []
    rejects: list[Reject] = []
    for _ in range(MAX_PAGES):
        if url is None:
            break
        page = _get_json(url, name, table)
        rows = page.get(config.records) if isinstance(page, dict) else None
        if not isinstance(rows, list):
            raise SourceReadError(
                f"source {name}, table {table}: {redact_url(url)} has no list under "
                f"{config.records!r}. "
                "Fix: set `records` for this table in hub.yaml to the key holding the rows."
            )
        for index, row in enumerate(rows):
            if isinstance(row, dict):
                records.append(row)
                origins.append(redact_url(url))
            else:
                where = f"{redact_url(url)} item {index}"
                rejects.append(Reject(where, "not a JSON object", json.dumps(row)))
        following = page.get("next")
        url = urllib.parse.urljoin(url, following) if following else None
    else:
        raise SourceReadError(f"source {name}, table {table}: more than {MAX_PAGES} pages.")
    if not records:
        raise SourceReadError(
            f"source {name}, table {table}: {redact_url(first)} returned no rows. "
            "Fix: check the endpoint; the previous data is kept."
        )
    # Every key of every record is a column (from_pylist would keep only the first record's).
    columns = list(dict.fromkeys(key for record in records for key in record))
    try:
        table_rows = pa.Table.from_pydict({c: [r.get(c) for r in records] for c in columns})
    except (pa.ArrowInvalid, pa.ArrowTypeError) as exc:
        raise SourceReadError(
            f"source {name}, table {table}: {redact_url(first)} returned values of mixed "
            f"types ({exc}). "
            "Fix: make the API return one type per field; the last good data is kept."
        ) from exc
    return Extract(
        rows=with_origin(table_rows, origins), rejects=rejects, location=redact_url(first)
    )


def _get_json(url: str, name: str, table: str) -> object:
    request = urllib.request.Request(url, headers={"Accept": "application/json"})
    try:
        with urllib.request.urlopen(request, timeout=TIMEOUT_SECONDS) as response:  # noqa: S310
            return json.load(response)
    except urllib.error.HTTPError as exc:
        problem = f"HTTP {exc.code} {exc.reason}"
    except urllib.error.URLError as exc:
        problem = f"unreachable ({exc.reason})"
    except (json.JSONDecodeError, UnicodeDecodeError) as exc:
        problem = f"not JSON ({exc})"
    except TimeoutError:
        problem = f"no answer within {TIMEOUT_SECONDS}s"
    except (http.client.HTTPException, ValueError) as exc:  # InvalidURL, IncompleteRead, ...
        problem = f"{type(exc).__name__}: {secrets.scrub(str(exc))}"
    raise SourceReadError(
        f"source {name}, table {table}: {redact_url(url)}: {problem}. "
        "Fix: check that the API is up and `url` in hub.yaml is right; the last good data is kept."
    )
