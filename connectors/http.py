"""REST/JSON APIs over HTTP (httpx), retried with backoff (tenacity), every page spooled to
a local NDJSON file that DuckDB's JSON reader then types like any other JSON file.

Shapes: a JSON body holding the list (`records:` names where, dotted; absent: the body is
the list) or NDJSON (`format:`, default from the Content-Type). Pagination: a next link in
the body (`next:`), the `Link` header, page numbers, offset/limit, or a cursor field; with
none declared, a body's `next` link or a `Link: rel=next` is followed. Auth comes from the
environment (`bearer`, a named header, or basic; user-info in the URL is basic auth).

A read is bounded: each request by `timeout`, the whole table by `max_seconds` (a server
trickling a byte every few seconds is stopped) and `max_bytes`; 429 and 5xx are retried
honouring `Retry-After`, 4xx are not. A next link to another host is refused, a page seen
twice stops the read (a loop), and an item that is not a JSON object is rejected with its
page, kept even when the whole page is rejected.
"""

from __future__ import annotations

import email.utils
import json
import tempfile
import time
import urllib.parse
from pathlib import Path
from typing import Any, Literal

from pydantic import Field, model_validator

from connectors.base import ORIGIN_COLUMN, Extract, Model, Reject, SourceBase, SourceReadError
from connectors.base import Table as BaseTable
from hub import secrets
from hub.secrets import redact_url

NDJSON_TYPES = ("application/x-ndjson", "application/ndjson", "application/jsonl")


class Basic(Model):
    user: str
    password: str = Field(repr=False)


class Auth(Model):
    bearer: str | None = Field(default=None, repr=False)
    "A bearer token: `Authorization: Bearer <token>`."
    header: str | None = None
    "Or the name of a header carrying the key (`X-Api-Key`) ..."
    value: str | None = Field(default=None, repr=False)
    "... and its value."
    basic: Basic | None = None
    "Or a user and password (HTTP basic auth)."

    @model_validator(mode="after")
    def _one_way(self) -> Auth:
        ways = [self.bearer is not None, self.header is not None, self.basic is not None]
        if sum(ways) != 1 or (self.header is None) != (self.value is None):
            raise ValueError("give one of `bearer`, `header` with `value`, or `basic`")
        for secret in (self.bearer, self.value, self.basic and self.basic.password):
            secrets.register(secret)
        return self


class CursorPages(Model):
    param: str
    "The request parameter that asks for the next page."
    field: str
    "Where the body says the next cursor is (dotted, e.g. `meta.next`)."


class Paginate(Model):
    next: str | None = None
    "Where the body holds the next page's URL (dotted)."
    link_header: bool = False
    "Follow the `Link: <...>; rel=next` header."
    page: str | None = None
    "Page-number parameter (from 1), with `size` ..."
    size: str | None = None
    offset: str | None = None
    "Offset parameter, with `limit` ..."
    limit: str | None = None
    cursor: CursorPages | None = None

    @model_validator(mode="after")
    def _one_style(self) -> Paginate:
        styles = [
            self.next is not None,
            self.link_header,
            self.page is not None,
            self.offset is not None,
            self.cursor is not None,
        ]
        if sum(styles) != 1:
            raise ValueError(
                "give one pagination style: next, link_header, page/size, offset/limit or cursor"
            )
        return self


class Table(BaseTable):
    path: str | None = None
    "Endpoint path under the source URL (default `/<table>`)."
    format: Literal["json", "ndjson"] | None = None
    "Default: from the Content-Type."
    records: str | None = None
    "Where the list of records is in a JSON body (dotted); absent: the body is the list."
    paginate: Paginate | None = None
    "Default: follow a `next` link in the body or a `Link: rel=next` header, if any."
    params: dict[str, str] = Field(default_factory=dict)
    "Query parameters sent with every request."
    page_size: int = Field(default=100, ge=1)
    cursor_param: str | None = None
    "Request parameter that sends the last cursor value, so the API returns only newer rows."


class Source(SourceBase):
    kind: Literal["http"]
    url: str
    "Base URL of the API (`${API_URL}`)."
    auth: Auth | None = None
    headers: dict[str, str] = Field(default_factory=dict)
    timeout: float = Field(default=30.0, gt=0)
    "Seconds one request may take to connect or to send the next bytes."
    max_seconds: float = Field(default=600.0, gt=0)
    "Seconds the whole table may take, retries included."
    max_bytes: int = Field(default=1 << 30, gt=0)
    "Bytes the whole table may be."
    retries: int = Field(default=5, ge=1)
    "Attempts per request on 429, 5xx and broken connections."
    tables: dict[str, Table]

    def location(self, root: Path) -> str:
        return redact_url(self.url)


class _Retry(Exception):
    """A response worth trying again (429, 5xx), with how long the server asked to wait."""

    def __init__(self, status: int, reason: str, retry_after: float | None) -> None:
        super().__init__(f"HTTP {status} {reason}")
        self.retry_after = retry_after


def read(
    source: Source, name: str, table: str, config: Table, root: Path, since: object = None
) -> Extract:
    base, auth = _split_auth(source.url)
    first = urllib.parse.urljoin(base.rstrip("/") + "/", (config.path or table).lstrip("/"))
    spool = Path(tempfile.mkstemp(prefix="hub-http-", suffix=".ndjson")[1])
    try:
        rejects, count = _fetch(
            source, name, table, config, first, auth or source.auth, since, spool
        )
    except BaseException:
        spool.unlink(missing_ok=True)
        raise
    where = redact_url(first)
    if not count:
        spool.unlink(missing_ok=True)
        return Extract(location=where, batches=[], rejects=rejects)
    return Extract(
        location=where,
        sql="SELECT * FROM read_json(?, format = 'newline_delimited', sample_size = -1)",
        params=[str(spool)],
        apply_types=True,
        rejects=rejects,
        cleanup=lambda: spool.unlink(missing_ok=True),
    )


def _split_auth(url: str) -> tuple[str, Auth | None]:
    """The URL without user-info, and that user-info as basic auth."""
    parts = urllib.parse.urlsplit(url)
    if parts.username is None:
        return url, None
    netloc = parts.hostname or ""
    if parts.port:
        netloc += f":{parts.port}"
    user = urllib.parse.unquote(parts.username)
    password = urllib.parse.unquote(parts.password or "")
    secrets.register(password)
    bare = urllib.parse.urlunsplit(parts._replace(netloc=netloc))
    return bare, Auth(basic=Basic(user=user, password=password))


def _fetch(
    source: Source,
    name: str,
    table: str,
    config: Table,
    first: str,
    auth: Auth | None,
    since: object,
    spool: Path,
) -> tuple[list[Reject], int]:
    import httpx

    deadline = time.monotonic() + source.max_seconds
    host = urllib.parse.urlsplit(first).netloc
    params = dict(config.params)
    if config.cursor_param and since is not None:  # dates and times as ISO 8601
        params[config.cursor_param] = (
            since.isoformat() if hasattr(since, "isoformat") else str(since)
        )
    style = config.paginate
    if style and style.page:
        params |= {style.page: "1", **({style.size: str(config.page_size)} if style.size else {})}
    if style and style.offset:
        params |= {
            style.offset: "0",
            **({style.limit: str(config.page_size)} if style.limit else {}),
        }
    headers = {"Accept": "application/json, application/x-ndjson", **source.headers}
    basic = None
    if auth and auth.bearer:
        headers["Authorization"] = f"Bearer {auth.bearer}"
    elif auth and auth.header:
        headers[auth.header] = auth.value or ""
    elif auth and auth.basic:
        basic = (auth.basic.user, auth.basic.password)
    rejects: list[Reject] = []
    nulls = set(source.null_values_of(config))  # texts meaning NULL, applied as records spool
    count, total = 0, 0
    seen: set[str] = set()
    bodies: set[int] = set()
    url: str | None = first
    with (
        httpx.Client(headers=headers, auth=basic, follow_redirects=False) as client,
        spool.open("w", encoding="utf-8") as out,
    ):
        while url is not None:
            request = str(httpx.URL(url).copy_merge_params(params))
            shown = redact_url(request)
            if request in seen:
                raise SourceReadError(
                    f"source {name}, table {table}: {shown} was asked for twice: the pages run "
                    "in a loop. Fix: check the API's pagination (or `paginate:`); the last good "
                    "data is kept."
                )
            seen.add(request)
            if urllib.parse.urlsplit(url).netloc != host:
                raise SourceReadError(
                    f"source {name}, table {table}: the next page {redact_url(url)} is on another "
                    f"host than {host}; Groundwork does not follow it (your credentials would go "
                    "there). Fix: check the API, or point `url` at that host."
                )
            body, response = _get(client, request, source, deadline, total, name, table)
            total += len(body)
            if body and hash(body) in bodies:
                raise SourceReadError(
                    f"source {name}, table {table}: {shown} answered the same page as an "
                    "earlier request: the pages run in a loop (the API may ignore the page "
                    "parameter). Fix: check `paginate:`; the last good data is kept."
                )
            bodies.add(hash(body))
            records, document = _records(body, response, config, name, table, shown)
            for index, record in enumerate(records):
                if isinstance(record, dict):
                    record = {
                        k: None if isinstance(v, str) and v in nulls else v
                        for k, v in record.items()
                    }
                    out.write(json.dumps({**record, ORIGIN_COLUMN: shown}) + "\n")
                    count += 1
                else:
                    rejects.append(
                        Reject(f"{shown} item {index}", "not a JSON object", json.dumps(record))
                    )
            url, params = _next(style, document, response, url, params, len(records), config)
    return rejects, count


def _get(
    client: Any,
    url: str,
    source: Source,
    deadline: float,
    so_far: int,
    name: str,
    table: str,
) -> tuple[bytes, Any]:
    """One page: retried on 429/5xx/broken connections, within the table's time and size."""
    import httpx
    import tenacity

    def wait(state: tenacity.RetryCallState) -> float:
        error = state.outcome.exception() if state.outcome else None
        asked = getattr(error, "retry_after", None)
        backoff = asked if asked is not None else min(0.5 * 2 ** (state.attempt_number - 1), 30)
        return max(0.0, min(backoff, deadline - time.monotonic()))

    retrying = tenacity.Retrying(
        retry=tenacity.retry_if_exception_type((httpx.TransportError, _Retry)),
        wait=wait,
        stop=tenacity.stop_after_attempt(source.retries)
        | tenacity.stop_after_delay(max(0.0, deadline - time.monotonic())),
        reraise=True,
    )
    shown = redact_url(url)
    try:
        for attempt in retrying:
            with attempt:
                return _get_once(client, url, source, deadline, so_far, name, table)
    except _Retry as exc:
        problem = f"{exc} after {source.retries} attempts"
    except httpx.TimeoutException:
        problem = f"no answer within {source.timeout:g}s"
    except httpx.TransportError as exc:
        problem = f"{type(exc).__name__}: {secrets.scrub(str(exc)) or 'the connection broke'}"
    raise SourceReadError(
        f"source {name}, table {table}: {shown}: {problem}. Fix: check that the API is up and "
        "`url` in hub.yaml is right; the last good data is kept."
    )


def _get_once(
    client: Any,
    url: str,
    source: Source,
    deadline: float,
    so_far: int,
    name: str,
    table: str,
) -> tuple[bytes, Any]:
    import httpx

    remaining = deadline - time.monotonic()
    timeout = httpx.Timeout(min(source.timeout, max(remaining, 0.1)))
    with client.stream("GET", url, timeout=timeout) as response:
        if response.status_code == 429 or response.status_code >= 500:
            raise _Retry(response.status_code, response.reason_phrase, _retry_after(response))
        if response.status_code >= 400:
            raise SourceReadError(
                f"source {name}, table {table}: {redact_url(str(response.url))}: HTTP "
                f"{response.status_code} {response.reason_phrase}. Fix: check `url`, `path` and "
                "`auth` in hub.yaml; the last good data is kept."
            )
        chunks = []
        size = so_far
        for chunk in response.iter_bytes():
            size += len(chunk)
            if size > source.max_bytes:
                raise SourceReadError(
                    f"source {name}, table {table}: more than {source.max_bytes} bytes. Fix: "
                    "raise `max_bytes` for this source if that is expected."
                )
            if time.monotonic() > deadline:
                raise SourceReadError(
                    f"source {name}, table {table}: not read within {source.max_seconds:g}s "
                    "(the server sends too slowly). Fix: raise `max_seconds`, or check the API."
                )
            chunks.append(chunk)
        return b"".join(chunks), response


def _retry_after(response: Any) -> float | None:
    value = response.headers.get("Retry-After")
    if not value:
        return None
    if value.strip().isdigit():
        return float(value)
    try:
        when = email.utils.parsedate_to_datetime(value)
    except (TypeError, ValueError):
        return None
    return max(0.0, when.timestamp() - time.time())


def _records(
    body: bytes, response: Any, config: Table, name: str, table: str, shown: str
) -> tuple[list[Any], Any]:
    """(the records of one page, the parsed JSON document: None for NDJSON)."""
    kind = response.headers.get("Content-Type", "").split(";")[0].strip().lower()
    ndjson = config.format == "ndjson" or (config.format is None and kind in NDJSON_TYPES)
    if config.format is None and not ndjson and "json" not in kind:
        raise SourceReadError(
            f"source {name}, table {table}: {shown} answered {kind or 'no Content-Type'}, "
            "not JSON. Fix: check the endpoint (`path`), or declare `format: json`."
        )
    try:
        text = body.decode("utf-8")
        if ndjson:
            return [json.loads(line) for line in text.splitlines() if line.strip()], None
        document = json.loads(text)
    except (UnicodeDecodeError, json.JSONDecodeError) as exc:
        raise SourceReadError(
            f"source {name}, table {table}: {shown} is not valid JSON ({exc}). Fix: check the "
            "endpoint; the last good data is kept."
        ) from None
    records = _at(document, config.records) if config.records else document
    if not isinstance(records, list):
        raise SourceReadError(
            f"source {name}, table {table}: {shown} has no list "
            f"{'under ' + repr(config.records) if config.records else 'as its body'}. "
            "Fix: set `records` for this table to where the list is (dotted, e.g. `data`)."
        )
    return records, document


def _at(document: Any, path: str) -> Any:
    for key in path.split("."):
        document = document.get(key) if isinstance(document, dict) else None
    return document


def _next(
    style: Paginate | None,
    document: Any,
    response: Any,
    url: str,
    params: dict[str, str],
    count: int,
    config: Table,
) -> tuple[str | None, dict[str, str]]:
    """The next page's URL and parameters, or (None, ...) after the last page."""
    link = response.links.get("next", {}).get("url")
    if style is None:
        found = document.get("next") if isinstance(document, dict) else None
        following = found or link
        return (urllib.parse.urljoin(url, following), {}) if following else (None, params)
    if style.next is not None:
        found = _at(document, style.next)
        return (urllib.parse.urljoin(url, found), {}) if found else (None, params)
    if style.link_header:
        return (urllib.parse.urljoin(url, link), {}) if link else (None, params)
    if count == 0 or (style.page or style.offset) and count < config.page_size:
        return None, params  # an empty or short page is the last
    if style.page:
        return url, {**params, style.page: str(int(params[style.page]) + 1)}
    if style.offset:
        step = int(params.get(style.limit or "", config.page_size) or count)
        return url, {**params, style.offset: str(int(params[style.offset]) + step)}
    cursor = _at(document, style.cursor.field) if style.cursor else None
    return (url, {**params, style.cursor.param: str(cursor)}) if cursor else (None, params)
