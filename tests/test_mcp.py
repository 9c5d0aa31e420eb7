"""`hub mcp` through the SDK's own client: outside agents list, describe, query and search the
products as the `agent` and `analyst` audiences, masked their way; the sandbox's attacks are
refused and change nothing; a closed gate refuses with its reasons; every call is audited
with the client's name."""

from __future__ import annotations

import json
import os
import re
import socket
import subprocess
import sys
import time
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from pathlib import Path
from typing import Any

import anyio
from mcp import ClientSession
from mcp.client.stdio import StdioServerParameters, stdio_client
from mcp.types import Implementation
from typer.testing import CliRunner

from hub import audit
from hub.cli import app
from hub.demo import DEMO_CONFIG
from quality import results
from quality.specs import Verdict, data_versions, table_checks
from tests.conftest import DemoProject, steward
from tests.test_sandbox import ATTACKS, fingerprint

HUB = Path(sys.executable).with_name("hub")
STEWARD_ONLY = (
    "serve:\n  ledger:\n    audience: steward\n    primary_key: [customer_id]\n"
    "    sql: SELECT customer_id, email FROM unified.customer\n"
)
TRICKS = [  # reaching past the products: bookkeeping, other layers, a CTE hiding a table
    "SELECT * FROM _hub_copy",
    "SELECT * FROM hub.main._hub_copy",
    "WITH clients AS (SELECT * FROM _hub_batches) SELECT * FROM clients",
    "SELECT * FROM unified.customer",
    "SELECT * FROM serve.ledger",
    "SELECT * FROM ledger",
]


class Client:
    """One MCP session as one named client; every answer's text is kept."""

    def __init__(self, session: ClientSession) -> None:
        self.session, self.seen = session, []

    async def call(self, tool: str, **arguments: Any) -> tuple[bool, Any]:
        """(is_error, structured result or the error's text)."""
        result = await self.session.call_tool(tool, arguments)
        text = " ".join(c.text for c in result.content)
        self.seen.append(text)
        return result.is_error, text if result.is_error else result.structured_content

    async def contract(self, product: str) -> str:
        read = await self.session.read_resource(f"contract://{product}")
        [content] = read.contents
        self.seen.append(content.text)
        assert content.mime_type == "application/yaml"
        return content.text


@asynccontextmanager
async def mcp_client(project: DemoProject, audience: str, log: Path) -> AsyncIterator[Client]:
    server = StdioServerParameters(
        command=str(HUB),
        args=["mcp", "--as", audience, "--config", str(project.config_path)],
        env=dict(os.environ),
    )
    with log.open("a") as errlog:
        async with stdio_client(server, errlog=errlog) as (read, write):
            name = Implementation(name=f"test-{audience}", version="1")
            async with ClientSession(read, write, client_info=name) as session:
                await session.initialize()
                yield Client(session)


def store_state(project: DemoProject) -> dict[str, Any]:
    """Every table of the store but the audit trail, by content; and the project's files
    but the store and the copies the server reads."""
    with project.store.reader() as con:
        tables = con.execute(
            "SELECT schema_name, table_name FROM duckdb_tables() "
            "WHERE NOT (schema_name = 'meta' AND table_name = 'audit_log')"
        ).fetchall()
        state = {
            f"{s}.{t}": con.execute(
                f"SELECT count(*), md5(string_agg(CAST(x AS VARCHAR), '|' ORDER BY "
                f'CAST(x AS VARCHAR))) FROM "{s}"."{t}" x'
            ).fetchone()
            for s, t in tables
        }
    files = {k: v for k, v in fingerprint(project.root).items() if not k.startswith("data/")}
    return {"tables": state, "files": files}


def fail_a_blocking_check(project: DemoProject) -> None:
    """`raw.crm__clients`'s key check failed on its current data, as its check step records."""
    [spec] = [
        s for s in table_checks(project.config)["raw.crm__clients"] if s.name == "unique__client_id"
    ]
    with project.store.transaction() as con:
        verdict = Verdict(spec.name, False, {"unexpected_count": 2})
        results.record(con, [spec], [verdict], versions=data_versions(con, [spec]), run_id="t")


def test_outside_agents_read_products_as_their_audience_and_nothing_else(
    built_demo: DemoProject, tmp_path: Path
) -> None:
    config = built_demo.config_path  # and a product neither audience may read
    config.write_text(config.read_text().replace("\nserve:\n", "\n" + STEWARD_ONLY, 1))
    clear = set(steward("SELECT email FROM raw.crm__clients").email.dropna())
    clear |= set(steward("SELECT email FROM unified.customer").email.dropna())
    served = steward("SELECT count(*) AS n FROM serve.clients").n[0]
    before = store_state(built_demo)
    log = tmp_path / "mcp-stderr.log"
    calls: dict[str, int] = {}

    async def story(audience: str) -> list[str]:
        async with mcp_client(built_demo, audience, log) as client:
            table = "clients" if audience == "agent" else "serve.clients"
            failed, listed = await client.call("list_products")
            assert not failed, listed
            assert [p["name"] for p in listed["products"]] == ["clients", "onboarding_docs"]
            assert {p["table"] for p in listed["products"]} >= {table}
            assert all(p["gate"] == "open" and p["rows"] == 12 for p in listed["products"])

            failed, described = await client.call("describe_product", name="clients")
            assert not failed and described["gate"]["open"], described
            copy = built_demo.root / "data" / f"{audience}.duckdb"
            published = copy.stat().st_mtime_ns  # current now; the calls' audit changes no data
            email = next(c for c in described["columns"] if c["name"] == "email")
            assert email["pii"] == "email"
            assert email["policy"] == ("mask" if audience == "agent" else "hash")
            assert {c["state"] for c in described["checks"]} == {"passed"}
            assert {c["table"] for c in described["checks"]} >= {
                "serve.clients",
                "raw.crm__clients",
            }

            sql = f"SELECT email, count(*) OVER () AS n FROM {table}"
            failed, emails = await client.call("query", sql=sql)
            assert not failed and emails["columns"] == ["email", "n"], emails
            assert {n for _, n in emails["rows"]} == {served} == {len(emails["rows"])}
            masked = r"[a-z]\*\*\*@[\w.-]+" if audience == "agent" else r"[0-9a-f]{16}"
            assert all(re.fullmatch(masked, email) for email, _ in emails["rows"]), emails
            failed, found = await client.call("search_documents", query="Okta single sign-on")
            assert not failed and found["hits"] and "Okta" in found["hits"][0]["quoted_text"]
            contract = await client.contract("clients")
            assert "name: serve.clients" in contract and "classification: email" in contract

            failed, said = await client.call("describe_product", name="ledger")
            assert failed and "no product 'ledger'" in said
            for trick in TRICKS:
                failed, said = await client.call("query", sql=trick)
                assert failed and "not a product" in said, (trick, said)
            if audience == "agent":  # the sandbox's attacks are refused before any audience
                failed, capped = await client.call("query", sql="SELECT * FROM range(1000)")
                assert not failed and len(capped["rows"]) == 200 and capped["truncated"]
                root, store = built_demo.root, built_demo.root / "data" / "hub.duckdb"
                for attack in [t.format(root=root, store=store) for t in ATTACKS.values()]:
                    failed, said = await client.call("query", sql=attack)
                    assert failed and "Traceback" not in said, (attack, said)
                fail_a_blocking_check(built_demo)
                failed, said = await client.call("query", sql="SELECT count(*) FROM clients")
                assert failed and "foundation gate closed" in said, said
                assert "raw.crm__clients: check unique__client_id failed" in said
                assert "Fix the data" in said
                failed, described = await client.call("describe_product", name="clients")
                assert not failed and not described["gate"]["open"]
                assert "unique__client_id failed" in described["gate"]["message"]
            if audience == "analyst":  # (the agent's copy is the pipeline's to publish)
                assert copy.stat().st_mtime_ns == published, "republished for an audit record"
            calls[audience] = len(client.seen)
            return client.seen

    seen = [text for audience in ("analyst", "agent") for text in anyio.run(story, audience)]

    assert not any(address in text for text in seen for address in clear)
    after = store_state(built_demo)
    changed = {t for t in before["tables"] if before["tables"][t] != after["tables"].get(t)}
    assert changed == {"meta.check_results"}  # the failed verdict this test wrote, nothing else
    assert after["files"] == before["files"]
    records = steward(
        "SELECT actor, action, target, details FROM meta.audit_log "
        "WHERE starts_with(actor, 'mcp:') ORDER BY seq"
    )
    assert list(records.actor.value_counts().sort_index().items()) == [
        ("mcp:test-agent", calls["agent"]),
        ("mcp:test-analyst", calls["analyst"]),
    ]
    details = [json.loads(d) for d in records.details]
    queries = [d for a, d in zip(records.action, details, strict=True) if a == "mcp.query"]
    assert all("sql" in d["arguments"] and d["audience"] in ("agent", "analyst") for d in queries)
    assert sum("refused" in d for d in queries) == 2 * len(TRICKS) + len(ATTACKS) + 1
    assert sorted(d["rows"] for d in queries if "rows" in d) == [served, served, 200]
    assert not any(address in d for d in records.details for address in clear)
    with built_demo.store.reader() as con:
        verdict = audit.verify(con, built_demo.store.audit_anchor)
    assert verdict.ok, verdict.problem


def test_steward_is_never_served() -> None:
    done = CliRunner().invoke(app, ["mcp", "--as", "steward", "--config", str(DEMO_CONFIG)])
    assert done.exit_code == 2
    assert "neverservedoverMCP" in re.sub(r"[\s│]", "", done.output), done.output


def test_streamable_http_on_loopback_only(built_demo: DemoProject, tmp_path: Path) -> None:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    command = [
        str(HUB),
        "mcp",
        "--http",
        "--port",
        str(port),
        "--config",
        str(built_demo.config_path),
    ]
    log = (tmp_path / "http.log").open("w")
    server = subprocess.Popen(command, stdout=log, stderr=subprocess.STDOUT)
    try:
        deadline = time.monotonic() + 60
        while not listening(port):
            assert server.poll() is None and time.monotonic() < deadline, (
                tmp_path / "http.log"
            ).read_text()
            time.sleep(0.2)
        assert listening_on(port) == {"127.0.0.1"}

        async def ask() -> Any:
            from mcp.client.streamable_http import streamable_http_client

            async with streamable_http_client(f"http://127.0.0.1:{port}/mcp") as (read, write):
                name = Implementation(name="http-client", version="1")
                async with ClientSession(read, write, client_info=name) as session:
                    await session.initialize()
                    return await session.call_tool("query", {"sql": "SELECT count(*) FROM clients"})

        answer = anyio.run(ask)
        assert not answer.is_error and answer.structured_content["rows"] == [[12]]
    finally:
        server.terminate()
        server.wait(timeout=30)
        log.close()
    actors = steward("SELECT actor FROM meta.audit_log WHERE action = 'mcp.query'").actor
    assert list(actors) == ["mcp:http-client"]


def listening(port: int) -> bool:
    return bool(listening_on(port))


def listening_on(port: int) -> set[str]:
    """The IPv4/IPv6 addresses a socket listens on at `port`, from /proc/net."""
    found = set()
    for table in ("/proc/net/tcp", "/proc/net/tcp6"):
        for line in Path(table).read_text().splitlines()[1:]:
            local, state = line.split()[1], line.split()[3]
            address, _, at = local.partition(":")
            if state == "0A" and int(at, 16) == port:
                found.add(
                    socket.inet_ntop(
                        socket.AF_INET if len(address) == 8 else socket.AF_INET6,
                        bytes.fromhex(address)[::-1] if len(address) == 8 else _v6(address),
                    )
                )
    return found


def _v6(address: str) -> bytes:
    raw = bytes.fromhex(address)
    return b"".join(raw[i : i + 4][::-1] for i in range(0, 16, 4))
