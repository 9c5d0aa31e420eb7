"""`hub export`: a governed product written out as an open file (Parquet or CSV) for one
audience, masked as that audience sees it, with its ODCS contract beside it; audited.

What was chosen:
- The rows are read through the audience's sandbox (`hub.sandbox` over its published copy,
  the store itself for the steward), the way `hub sql --as` reads them: a value masked for
  the audience is masked in the file, because the clear value is not in what it reads.
- The audience must be one that may read the product (`serve.<p>.audience` and those above
  it); any other is refused, naming who may.
- Only proven data leaves: the export is refused, naming each problem, unless the product's
  gate is open (`hub.gate.evaluate_product`, the rule `hub mcp` applies too: every blocking
  check on the product and on everything it is built from passed on the current data, and
  its last build succeeded). A file outside the store escapes every later gate.
- The data read must be the batch the gate proved: the agents' copy is republished only by
  the pipeline, so after the product was rebuilt it holds older rows, and the export for
  agents is refused (`hub.copies.copy_holds`, the rule `hub mcp` applies) until `hub run`
  publishes it again. The record names the batch read, taken in the connection that read it.
- `<product>.<format>` and `<product>.odcs.yaml` (the contract, its `servers` naming the file,
  its `customProperties` the audience) are written under temporary names, then the audit
  record (`product.export`: who, audience, format, rows, files, sha256 of the data file, the
  product's batch) is appended and the files renamed into place in the same transaction;
  should anything fail, every rename is undone: the files and their record appear together
  or not at all.
- Nothing already there is replaced unless `--overwrite` is given, and then only regular
  files; they are set aside until the transaction commits, put back if it does not.
"""

from __future__ import annotations

import contextlib
import hashlib
import io
import os
import uuid
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING

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
    overwrite: bool = False,
) -> Exported:
    """Write serve.`product` as `audience` (default: the project's) sees it into `to_dir`,
    as `fmt` (parquet or csv), with its contract; audited as done by `by`. Files already
    there are refused unless `overwrite` (then only regular files are replaced)."""
    from hub import audit
    from hub.contracts import contract_for, dump
    from hub.copies import copy_holds
    from hub.gate import GateVerdict, evaluate_product
    from hub.store import Store

    name, who = _allowed(config, product, fmt, audience)
    if not by.strip():
        raise ExportError("say who exports (--by NAME): it goes to the audit trail.")
    folder = Path(to_dir).expanduser().resolve()
    data, described = folder / f"{name}.{fmt}", folder / f"{name}.odcs.yaml"
    targets = (data, described)
    if folder.exists() and not folder.is_dir():
        raise ExportError(f"--to {folder} is not a folder. Fix: name a folder (--to DIR).")
    for target in targets:
        _may_write(target, overwrite)
    store = Store.of(config)
    ref = f"serve.{name}"
    with store.reader() as con:
        verdict = evaluate_product(con, config, name)  # the rule `hub mcp` applies
        contract = contract_for(config, name, con, audience=who)
    if not verdict.open:
        raise ExportError(GateVerdict(f"the export of {ref}", verdict.problems).message())
    batch = verdict.batches.get(ref)
    rows, copied = _read(config, store, name, who)
    if not copy_holds(copied, ref, batch):
        if who == "agent":
            raise ExportError(
                f"{ref}: the agents' copy holds batch {copied.get(ref)}, not the current "
                f"batch {batch}, so its rows are older data. Fix: run `hub run` to publish "
                "the agents' copy again, or export it --as analyst."
            )
        raise ExportError(
            f"{ref} changed while it was being exported (batch {batch} was proven, "
            f"{copied.get(ref)} was read). Fix: run the export again."
        )
    payload = _encode(rows, fmt)
    contract["servers"] = [{"server": "export", "type": "local", "path": data.name, "format": fmt}]
    digest = hashlib.sha256(payload).hexdigest()
    staged = {data: payload, described: dump(contract).encode()}
    staging: dict[Path, Path] = {}
    placed: list[tuple[Path, Path | None]] = []  # (target, its old file set aside): in place
    created = not folder.exists()
    try:
        try:
            folder.mkdir(parents=True, exist_ok=True)
            for target, content in staged.items():
                staging[target] = _stage(target, content)
        except OSError as exc:
            raise ExportError(
                f"cannot write to {folder} ({exc.strerror or exc}). Fix: let this user write "
                "there, or export --to another folder."
            ) from None
        with store.transaction() as con:
            audit.append(
                con,
                actor=f"human:{by}",
                action="product.export",
                target=ref,
                details={
                    "audience": who,
                    "format": fmt,
                    "rows": rows.num_rows,
                    "files": [str(data), str(described)],
                    "sha256": digest,
                    "contract_version": contract["version"],
                    "batch_id": copied.get(ref),
                },
            )
            for target, temporary in staging.items():
                try:
                    _place(temporary, target, overwrite, placed)
                except OSError as exc:
                    raise ExportError(
                        f"cannot put {target} in place ({exc.strerror or exc}); nothing was "
                        "exported. Fix: let this user write there, or export --to another folder."
                    ) from None
    except BaseException:
        _undo(placed)
        for temporary in staging.values():
            temporary.unlink(missing_ok=True)
        if created:  # a folder made for a failed export goes, once empty
            with contextlib.suppress(OSError):
                folder.rmdir()
        raise
    finally:
        for temporary in staging.values():
            temporary.unlink(missing_ok=True)
    for _, aside in placed:  # committed: the old files go
        if aside is not None:
            aside.unlink(missing_ok=True)
    return Exported(data, described, rows.num_rows, digest)


def login_name() -> str:
    """Who runs this process, for `--by`'s default; empty when the system cannot say."""
    import getpass

    try:
        return getpass.getuser()
    except (KeyError, OSError):
        return ""


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


def _read(
    config: HubConfig, store: Store, name: str, audience: str
) -> tuple[pa.Table, dict[str, str | None]]:
    """The product's rows as the audience reads them, through its sandbox, and the batch
    each table of what it read was copied from (store table -> batch), read in the same
    connection, so it is the batch of these rows."""
    from hub.copies import COPIED_BATCHES, reader_path
    from hub.sandbox import SandboxConnection, open_sandbox
    from hub.store import quote_ident

    path = reader_path(config, store, audience)
    access = config.access
    sandbox = open_sandbox(path, memory_limit=access.memory_limit, threads=access.threads)
    ref = f"serve.{name}"
    with SandboxConnection(sandbox) as con:
        if audience == "agent":
            # the agents' copy holds its products in `main`, and what it copied them from
            rows = con.execute(f"SELECT * FROM {quote_ident(name)}").arrow()
            return rows, dict(con.execute(COPIED_BATCHES).fetchall())
        # the analyst's copy and the store: in `serve`, with `meta.batches`
        rows = con.execute(f"SELECT * FROM serve.{quote_ident(name)}").arrow()
        found = con.execute(
            "SELECT batch_id FROM meta.batches WHERE table_name = ? ORDER BY seq DESC LIMIT 1",
            [ref],
        ).fetchone()
        return rows, {ref: found[0] if found else None}


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


def _may_write(target: Path, overwrite: bool) -> None:
    """Refuse `target` when something is there, unless `overwrite` and it is a regular file."""
    if not os.path.lexists(target):
        return
    if not overwrite:
        raise ExportError(
            f"{target} already exists. Fix: pass --overwrite to replace it, or export "
            "--to another folder."
        )
    if target.is_symlink() or not target.is_file():
        raise ExportError(
            f"{target} exists and is not a regular file; --overwrite replaces only files. "
            "Fix: move it away, or export --to another folder."
        )


def _place(
    temporary: Path, target: Path, overwrite: bool, placed: list[tuple[Path, Path | None]]
) -> None:
    """Rename `temporary` to `target`, noting it in `placed` (with where the file it replaces,
    `overwrite` only, was set aside) so that `_undo` can put things back."""
    _may_write(target, overwrite)
    aside = None
    if overwrite and os.path.lexists(target):
        aside = target.with_name(f".{target.name}.{uuid.uuid4().hex[:8]}.old")
        os.replace(target, aside)
        placed.append((target, aside))
        os.replace(temporary, target)
        return
    try:
        os.link(temporary, target)  # fails, rather than replace, when something came since
    except FileExistsError:
        _may_write(target, overwrite)
        raise
    except OSError:  # a file system without hard links
        os.replace(temporary, target)
    placed.append((target, aside))


def _undo(placed: list[tuple[Path, Path | None]]) -> None:
    """Take back what `_place` did, last first: remove the new file, put the old one back."""
    for target, aside in reversed(placed):
        if aside is None:
            target.unlink(missing_ok=True)
        elif os.path.lexists(aside):
            os.replace(aside, target)
