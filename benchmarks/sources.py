"""Source benchmarks: each Groundwork load against the fastest plain way to do the same, in
the same run. Each function returns {label: seconds}; the first label is Groundwork's."""

from __future__ import annotations

import json
import threading
import time
from collections.abc import Callable
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

import duckdb

from hub.config import load_config
from hub.load import load_table
from hub.store import Store

PG = "postgresql://postgres@127.0.0.1:5432/test"
MARIADB = "mysql+pymysql://root@127.0.0.1:3306/test"


def timed(fn: Callable[[], Any]) -> float:
    started = time.perf_counter()
    fn()
    return time.perf_counter() - started


def project(root: Path, sources: dict[str, Any]) -> tuple[Any, Store]:
    import yaml

    root.mkdir(parents=True, exist_ok=True)
    (root / "hub.yaml").write_text(yaml.safe_dump({"sources": sources}))
    return load_config(root / "hub.yaml"), Store(root / "data" / "hub.duckdb")


def csv(root: Path, rows: int) -> dict[str, float]:
    """A flights-like CSV with `NA` for missing values and declared types."""
    path = root / "exports" / "flights.csv"
    path.parent.mkdir(parents=True, exist_ok=True)
    duckdb.sql(
        f"COPY (SELECT i AS id, CASE WHEN i % 40 = 0 THEN 'NA' ELSE CAST(500 + i % 900 AS "
        f"VARCHAR) END AS dep_time, ['UA', 'B6', 'AA'][1 + i % 3] AS carrier, "
        f"TIMESTAMP '2013-01-01' + INTERVAL (i % 8760) HOUR AS time_hour FROM range({rows}) "
        f"t(i)) TO '{path}' (HEADER)"
    )
    types = {"id": "BIGINT", "dep_time": "INTEGER", "carrier": "VARCHAR", "time_hour": "TIMESTAMP"}
    baseline = duckdb.connect(str(root / "baseline.duckdb"))
    options = f"nullstr = ['', 'NA'], types = {types}"
    plain = timed(
        lambda: baseline.execute(f"CREATE TABLE f AS SELECT * FROM read_csv('{path}', {options})")
    )
    lineage = timed(  # what the lineage columns alone cost DuckDB (no rejects, no audit)
        lambda: baseline.execute(
            f"CREATE TABLE g AS SELECT *, 'ops' AS _hub_source, 'b-1' AS _hub_batch_id, "
            f"now() AS _hub_loaded_at FROM read_csv('{path}', {options}, filename = true)"
        )
    )
    baseline.close()
    config, store = project(
        root / "project",
        {
            "ops": {
                "kind": "files",
                "path": str(path.parent),
                "null_values": ["", "NA"],
                "tables": {"flights": {"columns": {c: {"type": t} for c, t in types.items()}}},
            }
        },
    )
    ours = timed(lambda: load_table(config, store, "ops", "flights"))
    return {
        "groundwork": ours,
        "DuckDB read_csv, same options": plain,
        "the same + lineage columns": lineage,
    }


def sql(root: Path, rows: int, url: str = PG) -> dict[str, float]:
    """A 6-column table in PostgreSQL (or MariaDB): the scanner is the limit."""
    import pandas as pd
    import sqlalchemy as sa

    engine = sa.create_engine(url)
    with engine.begin() as conn:
        conn.execute(sa.text("DROP TABLE IF EXISTS bench_orders"))
        conn.execute(
            sa.text(
                "CREATE TABLE bench_orders (id BIGINT PRIMARY KEY, customer VARCHAR(40), "
                "amount NUMERIC(12,2), status VARCHAR(10), created TIMESTAMP, note VARCHAR(80))"
            )
        )
    _fill(url, rows)
    backend = "postgres" if url.startswith("postgresql") else "mysql"
    from connectors.sql import _install

    _install(f"{backend}_scanner")
    plain_con = duckdb.connect(str(root / "scanner.duckdb"))
    plain_con.execute(f"LOAD {backend}_scanner")
    attach = (
        "'dbname=test user=postgres host=127.0.0.1'"
        if backend == "postgres"
        else "'host=127.0.0.1 user=root port=3306 database=test'"
    )
    plain_con.execute(f"ATTACH {attach} AS src (TYPE {backend}, READ_ONLY)")
    scanner = timed(lambda: plain_con.execute("CREATE TABLE o AS SELECT * FROM src.bench_orders"))
    plain_con.close()

    def chunks() -> None:
        target = duckdb.connect(str(root / "pandas.duckdb"))
        for frame in pd.read_sql("SELECT * FROM bench_orders", engine, chunksize=100_000):
            target.register("chunk", frame)
            target.execute("CREATE TABLE IF NOT EXISTS o AS SELECT * FROM chunk LIMIT 0")
            target.execute("INSERT INTO o SELECT * FROM chunk")
            target.unregister("chunk")
        target.close()

    pandas_seconds = timed(chunks)
    config, store = project(
        root / f"project-{backend}",
        {"db": {"kind": "sql", "url": url, "tables": {"bench_orders": {"primary_key": "id"}}}},
    )
    ours = timed(lambda: load_table(config, store, "db", "bench_orders"))
    engine.dispose()
    return {"groundwork": ours, "DuckDB scanner": scanner, "pandas.read_sql chunks": pandas_seconds}


def _fill(url: str, rows: int) -> None:
    import sqlalchemy as sa

    engine = sa.create_engine(url)
    with engine.begin() as conn:
        if url.startswith("postgresql"):
            conn.execute(
                sa.text(
                    "INSERT INTO bench_orders SELECT i, 'customer ' || (i % 5000), "
                    "(i % 100000) / 100.0, CASE WHEN i % 3 = 0 THEN 'paid' ELSE 'open' END, "
                    "TIMESTAMP '2024-01-01' + (i % 100000) * INTERVAL '1 minute', "
                    "'note ' || i FROM generate_series(1, :n) AS i"
                ),
                {"n": rows},
            )
        else:  # MariaDB's sequence engine: seq_1_to_<n>
            conn.execute(
                sa.text(
                    f"INSERT INTO bench_orders SELECT seq, CONCAT('customer ', seq % 5000), "
                    f"(seq % 100000) / 100.0, IF(seq % 3 = 0, 'paid', 'open'), "
                    f"TIMESTAMP'2024-01-01 00:00:00' + INTERVAL (seq % 100000) MINUTE, "
                    f"CONCAT('note ', seq) FROM seq_1_to_{int(rows)}"
                )
            )
    engine.dispose()


def incremental(root: Path, rows: int) -> dict[str, float]:
    """1% of the rows new or changed, read past the cursor and merged, against a full load."""
    import sqlalchemy as sa

    sql(root, rows)  # fills bench_orders
    config, store = project(
        root / "incremental",
        {
            "db": {
                "kind": "sql",
                "url": PG,
                "tables": {
                    "bench_orders": {"primary_key": "id", "write": "merge", "cursor": "created"}
                },
            }
        },
    )
    full = timed(lambda: load_table(config, store, "db", "bench_orders"))
    changed = rows // 100
    engine = sa.create_engine(PG)
    with engine.begin() as conn:
        conn.execute(
            sa.text(
                "UPDATE bench_orders SET status = 'changed', created = TIMESTAMP '2030-01-01' "
                "WHERE id <= :n"
            ),
            {"n": changed // 2},
        )
        conn.execute(
            sa.text(
                "INSERT INTO bench_orders SELECT i, 'new', 1, 'open', TIMESTAMP '2030-01-02', "
                "'new' FROM generate_series(:a, :b) AS i"
            ),
            {"a": rows + 1, "b": rows + changed // 2},
        )
    engine.dispose()
    ours = timed(lambda: load_table(config, store, "db", "bench_orders"))
    return {"groundwork incremental (1%)": ours, "groundwork full load": full}


def http(root: Path, records: int) -> dict[str, float]:
    """`records` JSON records at 1,000 a page from a local server."""
    import httpx

    page_size = 1000
    pages = [
        json.dumps(
            {
                "data": [
                    {
                        "id": i,
                        "city": f"city {i % 300}",
                        "temp": i % 40,
                        "at": "2024-05-01T10:00:00",
                    }
                    for i in range(start, min(start + page_size, records))
                ],
                "next": f"/weather?page={n + 1}" if start + page_size < records else None,
            }
        ).encode()
        for n, start in enumerate(range(0, records, page_size))
    ]

    class Handler(BaseHTTPRequestHandler):
        def do_GET(self) -> None:  # noqa: N802
            page = int(self.path.partition("page=")[2] or 0)
            self.send_response(200)
            self.send_header("Content-Type", "application/json")
            self.send_header("Content-Length", str(len(pages[page])))
            self.end_headers()
            self.wfile.write(pages[page])

        def log_message(self, *args: Any) -> None:
            pass

    server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    url = f"http://127.0.0.1:{server.server_address[1]}"

    def bare() -> None:
        spool = root / "bare.ndjson"
        with httpx.Client() as client, spool.open("w") as out:
            next_url: str | None = f"{url}/weather?page=0"
            while next_url:
                body = client.get(next_url).json()
                out.writelines(json.dumps(r) + "\n" for r in body["data"])
                next_url = f"{url}{body['next']}" if body["next"] else None
        con = duckdb.connect(str(root / "bare.duckdb"))
        con.execute(f"CREATE TABLE w AS SELECT * FROM read_json('{spool}')")
        con.close()

    try:
        plain = timed(bare)
        config, store = project(
            root / "http",
            {
                "api": {
                    "kind": "http",
                    "url": url,
                    "tables": {"weather": {"path": "/weather", "records": "data"}},
                }
            },
        )
        ours = timed(lambda: load_table(config, store, "api", "weather"))
    finally:
        server.shutdown()
        server.server_close()
    return {"groundwork": ours, "httpx loop + DuckDB read_json": plain}
