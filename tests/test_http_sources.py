"""HTTP sources against servers the tests start on 127.0.0.1: every shape and pagination
style, auth from the environment, retries that honour Retry-After, and each way an API
misbehaves named with the fix, the last good data kept."""

from __future__ import annotations

import json
import tempfile
import time
from pathlib import Path
from typing import Any

import pytest

from hub.load import LoadError
from tests.sources import FakeAPI, Project, as_json, trickle

RECORDS = [
    {"id": i, "seen": f"2024-05-0{i}T10:00:00Z", "status": "NA" if i == 2 else "ok"}
    for i in range(1, 6)
]


def http_project(tmp_path: Path, url: str, source: dict | None = None, **table: Any) -> Project:
    return Project(
        tmp_path,
        {
            "api": {
                "kind": "http",
                "url": url,
                "retries": 3,
                "null_values": ["", "NA"],
                **(source or {}),
                "tables": {"weather": {"path": "/weather", **table}},
            }
        },
    )


def pages(size: int) -> list[list[dict]]:
    return [RECORDS[i : i + size] for i in range(0, len(RECORDS), size)]


STYLES = {
    "next link": (
        {"paginate": {"next": "links.next"}, "records": "data"},
        lambda q, n: as_json(
            {
                "data": pages(2)[int(q.get("p", ["0"])[0])],
                "links": {"next": f"/weather?p={int(q.get('p', ['0'])[0]) + 1}"}
                if int(q.get("p", ["0"])[0]) < 2
                else {},
            }
        ),
    ),
    "link header": (
        {"paginate": {"link_header": True}},
        lambda q, n: as_json(
            pages(2)[int(q.get("p", ["0"])[0])],
            **(
                {"Link": f'</weather?p={int(q.get("p", ["0"])[0]) + 1}>; rel="next"'}
                if int(q.get("p", ["0"])[0]) < 2
                else {}
            ),
        ),
    ),
    "page numbers": (
        {"paginate": {"page": "page", "size": "per_page"}, "page_size": 2},
        lambda q, n: as_json((pages(2) + [[]])[int(q["page"][0]) - 1]),
    ),
    "offset and limit": (
        {"paginate": {"offset": "offset", "limit": "limit"}, "page_size": 2},
        lambda q, n: as_json(RECORDS[int(q["offset"][0]) : int(q["offset"][0]) + 2]),
    ),
    "cursor field": (
        {"paginate": {"cursor": {"param": "after", "field": "meta.next"}}, "records": "items"},
        lambda q, n: as_json(
            {
                "items": pages(2)[int(q.get("after", ["0"])[0])],
                "meta": {"next": str(int(q.get("after", ["0"])[0]) + 1)}
                if int(q.get("after", ["0"])[0]) < 2
                else {"next": None},
            }
        ),
    ),
    "ndjson": (
        {"format": "ndjson"},
        lambda q, n: (
            200,
            {"Content-Type": "application/x-ndjson"},
            "\n".join(json.dumps(r) for r in RECORDS).encode(),
        ),
    ),
}


@pytest.mark.parametrize("style", list(STYLES))
def test_every_shape_and_pagination_style_reads_every_record_typed(
    tmp_path: Path, style: str
) -> None:
    table, route = STYLES[style]
    with FakeAPI({"/weather": route}) as api:
        project = http_project(tmp_path, api.url, **table)
        result = project.load("api", "weather")

    assert result.read == 5 and result.rejected == 0
    assert project.sql("SELECT id, status FROM raw.api__weather ORDER BY id") == [
        (1, "ok"),
        (2, None),  # `NA` is a null text
        (3, "ok"),
        (4, "ok"),
        (5, "ok"),
    ]
    assert project.types("raw.api__weather")["seen"].startswith("TIMESTAMP")


def test_auth_from_the_environment_is_sent_and_never_shown(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("API_TOKEN", "tok-Secr3t-77")
    with FakeAPI({"/weather": lambda q, n: as_json(RECORDS)}) as api:
        project = http_project(tmp_path, api.url, {"auth": {"bearer": "${API_TOKEN}"}})
        project.load("api", "weather")
        sent = api.headers[-1]

    assert sent["Authorization"] == "Bearer tok-Secr3t-77"
    trail = " ".join(r[0] for r in project.sql("SELECT details FROM meta.audit_log"))
    assert "tok-Secr3t-77" not in trail


def test_a_500_then_a_429_with_retry_after_then_a_200_is_read(tmp_path: Path) -> None:
    def flaky(q: dict, hit: int) -> tuple:
        if hit == 1:
            return as_json({"error": "boom"}, status=500)
        if hit == 2:
            return as_json({"error": "slow down"}, status=429, **{"Retry-After": "1"})
        return as_json(RECORDS)

    with FakeAPI({"/weather": flaky}) as api:
        project = http_project(tmp_path, api.url)
        started = time.monotonic()
        result = project.load("api", "weather")

    assert result.read == 5 and len(api.hits) == 3
    assert time.monotonic() - started >= 1.0  # it waited as the server asked


def test_an_all_rejected_page_keeps_its_rejects(tmp_path: Path) -> None:
    with FakeAPI({"/weather": lambda q, n: as_json([7, "oops"])}) as api:
        project = http_project(tmp_path, api.url)
        with pytest.raises(LoadError, match="no good rows.*2 rejected row.*kept in rejects"):
            project.load("api", "weather")

    assert project.sql("SELECT reason, record FROM rejects.api__weather ORDER BY record") == [
        ("not a JSON object", '"oops"'),
        ("not a JSON object", "7"),
    ]


def short_body(handler: Any) -> None:
    handler.send_response(200)
    handler.send_header("Content-Type", "application/json")
    handler.send_header("Content-Length", "1000")
    handler.end_headers()
    handler.wfile.write(b'[{"id": 1}')


MISBEHAVIOURS = {
    "invalid JSON": (
        lambda q, n: (200, {"Content-Type": "application/json"}, b"[{"),
        {},
        "not valid JSON",
    ),
    "HTML instead of JSON": (
        lambda q, n: (200, {"Content-Type": "text/html"}, b"<html>login</html>"),
        {},
        "answered text/html, not JSON",
    ),
    "a Content-Length larger than the body": (
        lambda q, n: short_body,
        {},
        "RemoteProtocolError",
    ),
    "a server trickling one byte at a time": (
        lambda q, n: trickle,
        {"max_seconds": 2},
        "not read within 2s",
    ),
    "a self-referencing next link": (
        lambda q, n: as_json(RECORDS, Link='</weather>; rel="next"'),
        {},
        "the pages run in a loop",
    ),
    "an off-host next link": (
        lambda q, n: as_json(RECORDS, Link='<http://evil.example/weather>; rel="next"'),
        {},
        "on another host",
    ),
    "a 404": (lambda q, n: as_json({"error": "no"}, status=404), {}, "HTTP 404"),
    "a 500 that does not go away": (
        lambda q, n: as_json({"error": "down"}, status=503),
        {},
        "HTTP 503 Service Unavailable after 3 attempts",
    ),
}


@pytest.mark.parametrize("case", list(MISBEHAVIOURS))
def test_a_misbehaving_api_is_named_with_the_fix_and_the_last_good_data_stays(
    tmp_path: Path, case: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    route, source, expected = MISBEHAVIOURS[case]
    spool_folder = tmp_path / "tmp"
    spool_folder.mkdir()
    monkeypatch.setattr(tempfile, "tempdir", str(spool_folder))  # where the spool goes
    with FakeAPI({"/weather": lambda q, n: as_json(RECORDS)}) as api:
        project = http_project(tmp_path, api.url, source, records=None)
        project.load("api", "weather")
        api.routes["/weather"] = route
        with pytest.raises(LoadError) as caught:
            project.load("api", "weather")

    message = str(caught.value)
    assert "source api, table weather" in message and expected in message, message
    assert "Fix" in message
    assert project.sql("SELECT count(*) FROM raw.api__weather") == [(5,)]
    assert list(spool_folder.iterdir()) == []  # the spool was removed, failure or not


def test_the_cursor_is_sent_to_the_api_and_only_newer_rows_are_kept(tmp_path: Path) -> None:
    def since(q: dict, n: int) -> tuple:
        after = q.get("since", [None])[0]
        return as_json([r for r in RECORDS if after is None or r["seen"] > after])

    with FakeAPI({"/weather": since}) as api:
        project = http_project(
            tmp_path, api.url, write="append", cursor="seen", cursor_param="since"
        )
        first = project.load("api", "weather")
        again = project.load("api", "weather")

    assert (first.read, again.read) == (5, 0)
    assert "since=2024-05-05" in api.hits[-1]
    assert project.sql("SELECT count(*) FROM raw.api__weather") == [(5,)]


def test_nested_values_and_an_api_that_ignores_the_page_parameter(tmp_path: Path) -> None:
    nested = [
        {"id": 1, "tags": ["a", "b"], "geo": {"lat": 1.5}},
        {"id": 2, "tags": [], "geo": None},
    ]
    with FakeAPI({"/weather": lambda q, n: as_json(nested)}) as api:
        project = http_project(tmp_path, api.url)
        project.load("api", "weather")
        assert project.sql("SELECT id, tags FROM raw.api__weather ORDER BY id") == [
            (1, ["a", "b"]),
            (2, []),
        ]
        project.write(
            {
                "api": {
                    "kind": "http",
                    "url": api.url,
                    "tables": {
                        "weather": {
                            "path": "/weather",
                            "page_size": 2,
                            "paginate": {"page": "page", "size": "per_page"},
                        }
                    },
                }
            }
        )
        with pytest.raises(LoadError, match="answered the same page as an earlier request"):
            project.load("api", "weather")
        assert len(api.hits) < 5  # stopped at once, not after max_seconds
