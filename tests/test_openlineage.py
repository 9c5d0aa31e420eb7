"""OpenLineage events out: a demo run tells an HTTP receiver on 127.0.0.1 its whole graph.

Every event is validated against a JSON Schema written here, in our own words, from the
definitions of the OpenLineage spec (RunEvent's required `eventTime`, `producer`,
`schemaURL`, `run.runId` as a UUID, `job.namespace`/`name`, the `eventType` values, datasets'
`namespace`/`name`, every facet's `_producer` and `_schemaURL`, and the shapes of the facets
Groundwork emits). No package ships the spec's `OpenLineage.json`, and we do not copy files
from the OpenLineage repository into ours.
"""

from __future__ import annotations

import json
import os
import socket
import threading
import time
import uuid
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

import dagster as dg
import jsonschema
import pytest
from typer.testing import CliRunner

from assets import build_definitions
from assets.openlineage import openlineage
from hub.cli import app
from hub.config import ConfigError, load_config
from hub.lineage_events import StepRun
from hub.lineage_names import asset_datasets, source_dataset
from hub.lineage_send import Emitter
from hub.runner import dagster_instance, materialize
from tests.conftest import DemoProject, steward

KEY = "ol-key-5f1c2e9a"
PASSWORD = "pw-of-the-support-desk"

_FACET = {
    "type": "object",
    "required": ["_producer", "_schemaURL"],
    "properties": {
        "_producer": {"$ref": "#/$defs/uri"},
        "_schemaURL": {"$ref": "#/$defs/uri"},
    },
}


def _facet(required: list[str], properties: dict[str, Any]) -> dict[str, Any]:
    """A facet: the base facet's fields and its own."""
    return {"allOf": [_FACET, {"type": "object", "required": required, "properties": properties}]}


_INPUT_FIELD = {
    "type": "object",
    "required": ["namespace", "name", "field"],
    "properties": {
        "namespace": {"type": "string"},
        "name": {"type": "string"},
        "field": {"type": "string"},
        "transformations": {
            "type": "array",
            "items": {
                "type": "object",
                "required": ["type"],
                "properties": {"type": {"enum": ["DIRECT", "INDIRECT"]}},
            },
        },
    },
}
SCHEMA: dict[str, Any] = {
    "$schema": "https://json-schema.org/draft/2020-12/schema",
    "type": "object",
    "required": ["eventTime", "producer", "schemaURL", "run", "job", "eventType"],
    "properties": {
        "eventTime": {"type": "string", "pattern": r"^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d"},
        "producer": {"$ref": "#/$defs/uri"},
        "schemaURL": {"$ref": "#/$defs/uri"},
        "eventType": {"enum": ["START", "RUNNING", "COMPLETE", "ABORT", "FAIL", "OTHER"]},
        "run": {
            "type": "object",
            "required": ["runId"],
            "properties": {
                "runId": {"type": "string", "format": "uuid"},
                "facets": {
                    "type": "object",
                    "additionalProperties": _FACET,
                    "properties": {
                        "parent": _facet(
                            ["run", "job"],
                            {
                                "run": {
                                    "type": "object",
                                    "required": ["runId"],
                                    "properties": {"runId": {"type": "string", "format": "uuid"}},
                                },
                                "job": {"$ref": "#/$defs/named"},
                            },
                        ),
                        "errorMessage": _facet(
                            ["message", "programmingLanguage"],
                            {"message": {"type": "string"}, "stackTrace": {"type": "string"}},
                        ),
                    },
                },
            },
        },
        "job": {
            "allOf": [{"$ref": "#/$defs/named"}],
            "properties": {
                "facets": {
                    "type": "object",
                    "additionalProperties": _FACET,
                    "properties": {
                        "jobType": _facet(
                            ["processingType", "integration"],
                            {"processingType": {"enum": ["BATCH", "STREAMING", "SERVICE"]}},
                        ),
                        "documentation": _facet(["description"], {}),
                        "sql": _facet(["query"], {"query": {"type": "string"}}),
                    },
                }
            },
        },
        "inputs": {"type": "array", "items": {"$ref": "#/$defs/input"}},
        "outputs": {"type": "array", "items": {"$ref": "#/$defs/output"}},
    },
    "$defs": {
        "uri": {"type": "string", "pattern": r"^[A-Za-z][A-Za-z0-9+.-]*:\S+$"},
        "named": {
            "type": "object",
            "required": ["namespace", "name"],
            "properties": {"namespace": {"type": "string"}, "name": {"type": "string"}},
        },
        "datasetFacets": {
            "type": "object",
            "additionalProperties": _FACET,
            "properties": {
                "schema": _facet(
                    [],
                    {
                        "fields": {
                            "type": "array",
                            "items": {
                                "type": "object",
                                "required": ["name"],
                                "properties": {
                                    "name": {"type": "string"},
                                    "type": {"type": "string"},
                                },
                            },
                        }
                    },
                ),
                "columnLineage": _facet(
                    ["fields"],
                    {
                        "fields": {
                            "type": "object",
                            "additionalProperties": {
                                "type": "object",
                                "required": ["inputFields"],
                                "properties": {
                                    "inputFields": {"type": "array", "items": _INPUT_FIELD}
                                },
                            },
                        }
                    },
                ),
            },
        },
        "input": {
            "allOf": [{"$ref": "#/$defs/named"}],
            "properties": {
                "facets": {"$ref": "#/$defs/datasetFacets"},
                "inputFacets": {
                    "type": "object",
                    "additionalProperties": _FACET,
                    "properties": {
                        "dataQualityAssertions": _facet(
                            ["assertions"],
                            {
                                "assertions": {
                                    "type": "array",
                                    "items": {
                                        "type": "object",
                                        "required": ["assertion", "success"],
                                        "properties": {
                                            "assertion": {"type": "string"},
                                            "success": {"type": "boolean"},
                                            "column": {"type": "string"},
                                        },
                                    },
                                }
                            },
                        )
                    },
                },
            },
        },
        "output": {
            "allOf": [{"$ref": "#/$defs/named"}],
            "properties": {
                "facets": {"$ref": "#/$defs/datasetFacets"},
                "outputFacets": {
                    "type": "object",
                    "additionalProperties": _FACET,
                    "properties": {
                        "outputStatistics": _facet(
                            [], {"rowCount": {"type": "integer", "minimum": 0}}
                        )
                    },
                },
            },
        },
    },
}
VALIDATOR = jsonschema.Draft202012Validator(
    SCHEMA, format_checker=jsonschema.Draft202012Validator.FORMAT_CHECKER
)


class Receiver:
    """An OpenLineage receiver on 127.0.0.1: keeps every request, answers `status`."""

    def __init__(self, status: int = 201, delay: float = 0.0) -> None:
        self.requests: list[tuple[str, dict[str, str], bytes]] = []
        receiver = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self) -> None:  # noqa: N802 - http.server's name
                body = self.rfile.read(int(self.headers.get("Content-Length", 0)))
                receiver.requests.append((self.path, dict(self.headers), body))
                time.sleep(delay)
                self.send_response(status)
                self.send_header("Content-Length", "0")
                self.end_headers()

            def log_message(self, *args: Any) -> None:
                pass

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.url = f"http://127.0.0.1:{self.server.server_address[1]}"
        threading.Thread(target=self.server.serve_forever, daemon=True).start()

    @property
    def events(self) -> list[dict[str, Any]]:
        return [json.loads(body) for _, _, body in self.requests]

    def close(self) -> None:
        self.server.shutdown()
        self.server.server_close()


@pytest.fixture
def receiver() -> Iterator[Receiver]:
    server = Receiver()
    yield server
    server.close()


def with_lineage(project: DemoProject, block: str) -> None:
    text = project.config_path.read_text()
    project.config_path.write_text(f"{text}\nlineage:\n  openlineage:\n{block}")


def lineage_warnings(project: DemoProject, run_id: str) -> list[str]:
    return [
        e.user_message
        for e in dagster_instance(project.root).all_logs(run_id)
        if e.level >= 30 and "OpenLineage" in (e.user_message or "")
    ]


def validate(event: dict[str, Any]) -> None:
    errors = [f"{list(e.absolute_path)}: {e.message}" for e in VALIDATOR.iter_errors(event)]
    assert not errors, (event["job"]["name"], event["eventType"], errors[:5])


def test_a_demo_run_tells_the_receiver_its_graph(
    built_demo: DemoProject, receiver: Receiver, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("OL_KEY", KEY)
    api = os.environ["SUPPORT_API_URL"]  # the support desk, now behind a login
    monkeypatch.setenv("SUPPORT_API_URL", api.replace("://", f"://desk:{PASSWORD}@"))
    with_lineage(built_demo, f"    url: {receiver.url}\n    api_key: ${{OL_KEY}}\n")

    report = materialize(built_demo.config_path)

    assert report.success, report.failures
    logged = dagster_instance(built_demo.root).all_logs(report.run_id)
    assert not any("OpenLineage" in (e.user_message or "") for e in logged)
    assert not any(KEY in (e.user_message or "") for e in logged)
    config = built_demo.config
    for path, headers, body in receiver.requests:
        assert path == "/api/v1/lineage"
        assert headers["Authorization"] == f"Bearer {KEY}"
        assert KEY.encode() not in body and PASSWORD.encode() not in body
    events = receiver.events
    for event in events:
        validate(event)
    runs: dict[str, list[dict]] = {}
    for event in events:
        runs.setdefault(event["job"]["name"], []).append(event)

    # one run per step of the graph, START then COMPLETE, its inputs and outputs the graph's
    graph = build_definitions(config, str(built_demo.config_path)).resolve_asset_graph()
    steps = [a for a in graph.assets_defs if not a.node_def.name.startswith("freshness_check")]
    assert sorted(runs) == sorted(a.node_def.name for a in steps)
    for step in steps:
        start, complete = runs[step.node_def.name]
        assert (start["eventType"], complete["eventType"]) == ("START", "COMPLETE")
        assert start["run"]["runId"] == complete["run"]["runId"]
        parent = complete["run"]["facets"]["parent"]
        assert parent["run"]["runId"] == report.run_id
        assert parent["job"] == {"namespace": config.project, "name": "all_assets", "facets": {}}
        assert complete["job"]["namespace"] == config.project
        written = set(step.keys)
        read = {d for k in step.keys for d in graph.get(k).parent_keys} - written
        read |= {d.asset_key for s in step.check_specs for d in (s, *s.additional_deps)}
        expected_out = {(d.namespace, d.name) for k in written for d in datasets(config, k)}
        expected_in = {(d.namespace, d.name) for k in read for d in datasets(config, k)}
        for key in written:
            if key.path[0] == "raw":  # a load reads its source
                origin = source_dataset(config, *key.path[1].split("__", 1))
                expected_in.add((origin.namespace, origin.name))
        for event in (start, complete):
            assert {(o["namespace"], o["name"]) for o in event["outputs"]} == expected_out
            assert {(i["namespace"], i["name"]) for i in event["inputs"]} == expected_in

    # how datasets are named: the store, and the sources by their location, no credentials
    store = f"duckdb://{(built_demo.root / 'data' / 'hub.duckdb').resolve()}"
    load = {(i["namespace"], i["name"]) for i in runs["raw__crm__clients"][1]["inputs"]}
    assert load == {(f"sqlite://{(built_demo.root / 'demo' / 'crm.sqlite').resolve()}", "clients")}
    tickets = runs["raw__support__tickets"][1]
    assert tickets["inputs"][0]["namespace"] == api.rstrip("/")
    assert tickets["inputs"][0]["name"] == "/tickets"
    assert tickets["outputs"][0]["namespace"] == store

    # the schema of each table written is the store's, with its rows
    for name in ("raw__crm__clients", "unified__customer", "serve__clients"):
        for output in runs[name][1]["outputs"]:
            columns = steward(
                "SELECT column_name FROM information_schema.columns WHERE table_schema = ? "
                "AND table_name = ? ORDER BY ordinal_position",
                output["name"].split("."),
            ).column_name.tolist()
            assert [f["name"] for f in output["facets"]["schema"]["fields"]] == columns
            rows = steward(f"SELECT count(*) AS n FROM {output['name']}").n[0]
            assert output["outputFacets"]["outputStatistics"]["rowCount"] == rows

    # column lineage: the entity's fields from the source columns hub.yaml maps
    customer = next(
        o for o in runs["unified__customer"][1]["outputs"] if o["name"] == "unified.customer"
    )
    lineage = {
        field: {(i["namespace"], i["name"], i["field"]) for i in found["inputFields"]}
        for field, found in customer["facets"]["columnLineage"]["fields"].items()
    }
    declared: dict[str, set] = {}
    for source in config.entities["customer"].sources:
        for field, column in source.fields.items():
            declared.setdefault(field, set()).add((store, f"raw.{source.table}", column))
    assert lineage == declared
    product = runs["serve__clients"][1]["outputs"][0]["facets"]["columnLineage"]["fields"]
    assert {(i["name"], i["field"]) for i in product["email"]["inputFields"]} == {
        ("unified.customer", "email")
    }

    # the checks' verdicts on the table they read, as in meta.check_results
    checked = runs["raw__crm__clients__checks"][1]["inputs"][0]
    assertions = checked["inputFacets"]["dataQualityAssertions"]["assertions"]
    recorded = steward(
        "SELECT check_name, passed FROM meta.check_results WHERE table_name = 'raw.crm__clients' "
        "AND run_id = ?",
        [report.run_id],
    )
    assert {(a["assertion"], a["success"]) for a in assertions} == set(
        zip(recorded.check_name, recorded.passed, strict=True)
    )
    assert {a["assertion"]: a.get("column") for a in assertions}["match_regex__email"] == "email"


def datasets(config: Any, key: dg.AssetKey) -> list:
    return asset_datasets(config, tuple(key.path))


def test_a_failed_load_and_a_failed_check_in_the_file(built_demo: DemoProject) -> None:
    built_demo.generate(dirty=True)  # a client twice: unique__client_id fails
    for path in (built_demo.root / "demo" / "billing").glob("accounts*.csv"):
        path.unlink()
    with_lineage(built_demo, "    file: lineage/events.ndjson\n")

    report = materialize(built_demo.config_path, ["raw/crm__clients", "raw/billing__accounts"])

    assert "no files match" in report.failures["raw__billing__accounts"]
    lines = (built_demo.root / "lineage" / "events.ndjson").read_text().splitlines()
    events = [json.loads(line) for line in lines]
    for event in events:
        validate(event)
    by_job = {(e["job"]["name"], e["eventType"]): e for e in events}
    failed = by_job["raw__billing__accounts", "FAIL"]
    assert by_job["raw__billing__accounts", "START"]["run"]["runId"] == failed["run"]["runId"]
    assert "no files match" in failed["run"]["facets"]["errorMessage"]["message"]
    checks = by_job["raw__crm__clients__checks", "COMPLETE"]["inputs"][0]["inputFacets"]
    verdicts = {a["assertion"]: a["success"] for a in checks["dataQualityAssertions"]["assertions"]}
    assert verdicts["unique__client_id"] is False and verdicts["row_count"] is True


def test_a_dead_receiver_is_a_warning_not_a_failure(
    built_demo: DemoProject, monkeypatch: pytest.MonkeyPatch
) -> None:
    with socket.socket() as probe:  # a port nobody listens on
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    monkeypatch.setenv("OL_KEY", KEY)
    with_lineage(built_demo, f"    url: http://127.0.0.1:{port}\n    api_key: ${{OL_KEY}}\n")

    report = materialize(built_demo.config_path, ["raw/billing__accounts"])

    assert report.success, report.failures
    warned = lineage_warnings(built_demo, report.run_id)
    assert len(warned) == 1  # once: the rest of the run's events are not tried
    assert f"http://127.0.0.1:{port}/api/v1/lineage" in warned[0] and "Fix:" in warned[0]
    logged = [
        e.user_message or "" for e in dagster_instance(built_demo.root).all_logs(report.run_id)
    ]
    assert not any(KEY in message for message in logged)

    said = CliRunner().invoke(app, ["run", "--select", "raw/billing__accounts"])  # as typed
    shown = " ".join(said.output.split())
    assert (
        said.exit_code == 0 and "! OpenLineage: the START event of raw__billing__accounts" in shown
    )
    assert "Connection refused" in shown and "Fix: start the receiver" in shown
    assert KEY not in said.output


@pytest.mark.parametrize(("status", "delay", "said"), [(500, 0.0, "500"), (201, 0.6, "timed out")])
def test_a_failing_receiver_is_tried_twice_then_left_for_the_run(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, status: int, delay: float, said: str
) -> None:
    server = Receiver(status=status, delay=delay)
    monkeypatch.setenv("OL_KEY", KEY)
    (tmp_path / "hub.yaml").write_text(
        f"lineage:\n  openlineage:\n    url: {server.url}\n    api_key: ${{OL_KEY}}\n"
        "    timeout_seconds: 0.2\n"
    )
    try:
        settings = load_config(tmp_path / "hub.yaml").lineage.openlineage
        emitter = Emitter(settings, tmp_path, "test")
        run = StepRun("test", "step", "LOAD", "all_assets", str(uuid.uuid4()), [], [])

        warning = emitter.send(run.event("START"), "dagster-run")
        again = emitter.send(run.event("COMPLETE"), "dagster-run")
    finally:
        server.close()
    assert len(server.requests) == 2  # the event and its one retry; nothing after
    assert warning and said in warning and f"{server.url}/api/v1/lineage" in warning
    assert KEY not in warning and again is None


def test_a_slow_receiver_is_cut_off_once_a_run_used_its_budget(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Every event answered, each just under the timeout: a run with many steps would wait on
    each. Once the run's events took more than the budget in all, the rest are not sent."""
    server = Receiver(status=201, delay=0.3)
    (tmp_path / "hub.yaml").write_text(
        f"lineage:\n  openlineage:\n    url: {server.url}\n    timeout_seconds: 1\n"
    )
    try:
        emitter = Emitter(load_config(tmp_path / "hub.yaml").lineage.openlineage, tmp_path, "t")
        emitter.budget = 1.0  # (5 s at least in use; a short one keeps the test short)
        run = StepRun("test", "step", "LOAD", "all_assets", str(uuid.uuid4()), [], [])
        said = [emitter.send(run.event("START"), "dagster-run") for _ in range(8)]
    finally:
        server.close()
    [warning] = [w for w in said if w]
    assert len(server.requests) == 4  # 0.3 s each: the fourth passed the 1 s budget
    assert "took" in warning and "over the budget" in warning and "Fix:" in warning
    assert said[4:] == [None] * 4 and emitter.lost == [warning]


def test_lineage_config_is_checked(tmp_path: Path) -> None:
    path = tmp_path / "hub.yaml"

    def refused(block: str) -> str:
        path.write_text(f"lineage:\n  openlineage:\n{block}")
        with pytest.raises(ConfigError) as raised:
            load_config(path)
        return str(raised.value)

    assert "api_key" in refused("    url: http://127.0.0.1:5000\n    api_key: plain-key\n")
    assert "exactly one" in refused("    url: http://127.0.0.1:5000\n    file: events.ndjson\n")
    assert "exactly one" in refused("    namespace: x\n")
    assert "credentials" in refused("    url: http://me:${OL_PW:-pw1}@127.0.0.1:5000\n")
    path.write_text("project: p\n")
    config = load_config(path)
    assert config.lineage.openlineage is None

    def compute(context: Any) -> None: ...

    assert openlineage(config)(compute) is compute  # off: the step is left as it is


def test_the_readme_example_loads(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    readme = (Path(__file__).parents[1] / "README.md").read_text()
    example = readme.partition("### Lineage out")[2].partition("```yaml\n")[2].partition("```")[0]
    monkeypatch.setenv("OPENLINEAGE_API_KEY", KEY)
    (tmp_path / "hub.yaml").write_text(example)
    settings = load_config(tmp_path / "hub.yaml").lineage.openlineage
    assert settings is not None and settings.api_key == KEY
    assert settings.url == "http://127.0.0.1:5000" and KEY not in repr(settings)


def test_sources_are_named_by_their_location_without_credentials(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("OL_DB_PASSWORD", "db-secret-1")
    monkeypatch.setenv("OL_API_URL", "https://svc:api-secret-2@api.example:8443/v2?token=tk-3")
    tables = {"t": {"primary_key": "id"}}
    (tmp_path / "hub.yaml").write_text(
        json.dumps(
            {
                "sources": {
                    "pg": {
                        "kind": "sql",
                        "url": "postgresql+psycopg://reader:${OL_DB_PASSWORD}@db.example/crm",
                        "tables": {"t": {"primary_key": "id", "name": "sales.clients"}},
                    },
                    "my": {
                        "kind": "sql",
                        "url": "mysql+pymysql://root:${OL_DB_PASSWORD}@127.0.0.1:3307/shop",
                        "tables": tables,
                    },
                    "api": {"kind": "http", "url": "${OL_API_URL}", "tables": tables},
                    "lake": {"kind": "files", "path": "exports", "tables": tables},
                    "lite": {  # a query string made the redacted URL lose a slash
                        "kind": "sql",
                        "url": f"sqlite:///{tmp_path}/crm.sqlite?token=${{OL_DB_PASSWORD}}",
                        "tables": tables,
                    },
                }
            }
        )
    )
    config = load_config(tmp_path / "hub.yaml")
    named = {s: vars(source_dataset(config, s, "t")) for s in config.sources}
    assert {s: (d["namespace"], d["name"]) for s, d in named.items()} == {
        "pg": ("postgres://db.example:5432", "crm.sales.clients"),
        "my": ("mysql://127.0.0.1:3307", "shop.t"),
        "api": ("https://api.example:8443", "/v2/t"),
        "lake": (f"file://{(tmp_path / 'exports').resolve()}", "t"),
        "lite": (f"sqlite://{tmp_path}/crm.sqlite", "t"),
    }
    shown = json.dumps(named, default=str)
    assert not any(s in shown for s in ("db-secret-1", "api-secret-2", "tk-3", "svc", "reader"))
