"""`hub export`: a governed product written out as an open file (Parquet or CSV) for one
audience, masked as that audience sees it, with its ODCS contract beside it; audited.

What was chosen:
- The rows are read through the audience's sandbox (`hub.sandbox` over its published copy,
  the store itself for the steward), the way `hub sql --as` reads them: a value masked for
  the audience is masked in the file, because the clear value is not in what it reads.
- The audience must be one that may read the product (`serve.<p>.audience` and those above
  it); any other is refused, naming who may.
- Only proven data leaves: the export is refused, naming each problem, unless the product's
  foundation gate is open (every blocking check on its inputs passed on their current data)
  and the product's own blocking checks passed on its current build. A file outside the
  store escapes every later gate, so it gets the strictest one now.
- `<product>.<format>` and `<product>.odcs.yaml` (the contract, its `servers` naming the file,
  its `customProperties` the audience) are written under temporary names, then the audit
  record (`product.export`: who, audience, format, rows, files, sha256 of the data file, the
  product's batch) is appended and the files renamed into place in the same transaction:
  no file appears without its record.
"""

from __future__ import annotations

import hashlib
import io
import os
import uuid
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING

import duckdb

from hub.config import AUDIENCES, ConfigError, HubConfig

if TYPE_CHECKING:
    import pyarrow as pa

    from hub.store import Store

FORMATS = ("parquet", "csv")


class ExportError(Exception):
    """The product cannot be exported as asked; the message says why and the fix."""


@dataclass(frozen=True)
class Exported:
    data: Path
    contract: Path
    rows: int
    sha256: str
    "SHA-256 of the data file, as the audit record has it."


def export_product(
    config: HubConfig,
    product: str,
    to_dir: str | Path,
    fmt: str = "parquet",
    audience: str | None = None,
    by: str = "",
) -> Exported:
    """Write serve.`product` as `audience` (default: the project's) sees it into `to_dir`,
    as `fmt` (parquet or csv), with its contract; audited as done by `by`."""
    from hub import audit
    from hub.contracts import contract_for, dump
    from hub.store import Store, latest_batch

    name, who = _allowed(config, product, fmt, audience)
    if not by.strip():
        raise ExportError("say who exports (--by NAME): it goes to the audit trail.")
    store = Store.of(config)
    with store.reader() as con:
        problems = gate_problems(con, config, name)
        batch = latest_batch(con, f"serve.{name}")
        contract = contract_for(config, name, con, audience=who)
    if problems:
        from hub.gate import GateVerdict

        raise ExportError(GateVerdict(f"the export of serve.{name}", problems).message())
    rows = _read(config, store, name, who)
    folder = Path(to_dir).expanduser().resolve()
    folder.mkdir(parents=True, exist_ok=True)
    data, described = folder / f"{name}.{fmt}", folder / f"{name}.odcs.yaml"
    payload = _encode(rows, fmt)
    contract["servers"] = [{"server": "export", "type": "local", "path": data.name, "format": fmt}]
    digest = hashlib.sha256(payload).hexdigest()
    staged = {data: payload, described: dump(contract).encode()}
    staging = {target: _stage(target, content) for target, content in staged.items()}
    try:
        with store.transaction() as con:
            audit.append(
                con,
                actor=f"human:{by}",
                action="product.export",
                target=f"serve.{name}",
                details={
                    "audience": who,
                    "format": fmt,
                    "rows": rows.num_rows,
                    "files": [str(data), str(described)],
                    "sha256": digest,
                    "contract_version": contract["version"],
                    "batch_id": batch,
                },
            )
            for target, temporary in staging.items():
                os.replace(temporary, target)
    finally:
        for temporary in staging.values():
            temporary.unlink(missing_ok=True)
    return Exported(data, described, rows.num_rows, digest)


def login_name() -> str:
    """Who runs this process, for `--by`'s default; empty when the system cannot say."""
    import getpass

    try:
        return getpass.getuser()
    except (KeyError, OSError):
        return ""


def gate_problems(con: duckdb.DuckDBPyConnection, config: HubConfig, name: str) -> list[str]:
    """Why serve.`name` is not proven: its build gate (the blocking checks of its inputs on
    their current data), its own last build, and its own blocking checks on it."""
    from hub import gate
    from hub.store import latest_batch
    from quality.specs import table_checks

    ref = f"serve.{name}"
    problems = list(gate.evaluate_build(con, config, ref).problems)
    if latest_batch(con, ref) is None:
        return [*problems, f"{ref}: never materialized, so its checks never ran"]
    problems += gate.build_problems(con, ref)
    own = [spec for spec in table_checks(config)[ref] if spec.blocking]
    for state in gate.check_states(con, ref, own):
        if state.state in ("stale", "never run"):
            problems.append(f"{ref}: check {state.spec.name} has not run on the current data")
        elif state.state != "passed":
            problems.append(f"{ref}: check {state.spec.name} {state.state}")
    return problems


def _allowed(config: HubConfig, product: str, fmt: str, audience: str | None) -> tuple[str, str]:
    """(product, audience), once both are known and the audience may read the product."""
    from hub.governance import readable_by

    if fmt not in FORMATS:
        raise ExportError(f"unknown format {fmt!r}. Fix: use --format {' or '.join(FORMATS)}.")
    name = product.removeprefix("serve.")
    if name not in config.serve:
        known = ", ".join(config.serve) or "none"
        raise ExportError(f"no product {product!r} (the products: {known}). Fix: name one.")
    who = audience or config.access.default_audience
    if who not in AUDIENCES:
        raise ConfigError(f"unknown audience {who!r}; use one of {', '.join(AUDIENCES)}.")
    if name not in readable_by(config, who):
        published = config.serve[name].audience
        allowed = ", ".join(AUDIENCES[AUDIENCES.index(published) :])
        raise ExportError(
            f"the {who} audience may not read serve.{name}, so it cannot be exported for it: "
            f"it is published for {published}, and may be exported for {allowed}. Fix: "
            f"export it --as one of those, or change serve.{name}.audience in hub.yaml."
        )
    return name, who


def _read(config: HubConfig, store: Store, name: str, audience: str) -> pa.Table:
    """The product's rows as the audience reads them, through its sandbox."""
    from hub.copies import reader_path
    from hub.sandbox import SandboxConnection, open_sandbox
    from hub.store import quote_ident

    path = reader_path(config, store, audience)
    access = config.access
    sandbox = open_sandbox(path, memory_limit=access.memory_limit, threads=access.threads)
    # the agents' copy holds its products in `main`; the analyst's copy and the store in `serve`
    relation = quote_ident(name) if audience == "agent" else f"serve.{quote_ident(name)}"
    with SandboxConnection(sandbox) as con:
        return con.execute(f"SELECT * FROM {relation}").arrow()


def _encode(rows: pa.Table, fmt: str) -> bytes:
    buffer = io.BytesIO()
    if fmt == "parquet":
        import pyarrow.parquet as pq

        pq.write_table(rows, buffer)
    else:
        import pyarrow.csv as csv

        csv.write_csv(rows, buffer)
    return buffer.getvalue()


def _stage(target: Path, content: bytes) -> Path:
    temporary = target.with_name(f".{target.name}.{uuid.uuid4().hex[:8]}.tmp")
    temporary.write_bytes(content)
    return temporary
