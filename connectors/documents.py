"""Document folders: one row per file (Markdown or text), ready for search and citation.

`doc_id` is the path relative to the folder, so citations stay stable across loads.
YAML front matter (between `---` lines at the top) becomes columns: that is how a document
says whose it is (`client_id: C001`), which agents need to search only their subject's
documents. A file that is not UTF-8 text, or whose front matter is not a YAML mapping of
plain values, is rejected with its path and the reason.
"""

from __future__ import annotations

import datetime
import hashlib
import re
from pathlib import Path
from typing import Literal

import pyarrow as pa
import yaml

from connectors.base import Extract, FolderSource, Reject, SourceReadError, with_origin
from connectors.base import Table as BaseTable

_COLUMN = re.compile(r"[a-z_][a-z0-9_]*")


class Table(BaseTable):
    pattern: str | None = None
    "Glob of the documents under the source path (default `*.md`)."


class Source(FolderSource):
    kind: Literal["documents"]
    tables: dict[str, Table]


def read(
    source: Source, name: str, table: str, config: Table, root: Path, since: object = None
) -> Extract:
    folder = source.folder(root)
    pattern = config.pattern or "*.md"
    paths = sorted(p for p in folder.glob(pattern) if p.is_file())
    if not paths:
        raise SourceReadError(
            f"source {name}, table {table}: no documents match {pattern!r} in {folder}. "
            "Fix: check `path` and `pattern` in hub.yaml."
        )
    rows: list[dict[str, str]] = []
    rejects: list[Reject] = []
    for path in paths:
        data = path.read_bytes()
        try:
            text = data.decode("utf-8")
        except UnicodeDecodeError as exc:
            rejects.append(
                Reject(str(path), f"not UTF-8 text ({exc.reason})", data[:200].hex(), raw=data)
            )
            continue
        try:
            front, body = front_matter(text)
        except ValueError as exc:
            rejects.append(Reject(str(path), f"front matter: {exc}", text[:400]))
            continue
        rows.append(
            {
                **front,
                "doc_id": path.relative_to(folder).as_posix(),
                "title": _title(body, path),
                "body": body,
                "sha256": hashlib.sha256(data).hexdigest(),
            }
        )
    columns = list(dict.fromkeys(key for row in rows for key in row)) or ["doc_id"]
    table_rows = pa.table({c: pa.array([r.get(c) for r in rows], pa.string()) for c in columns})
    table_rows = with_origin(table_rows, [str(folder / r["doc_id"]) for r in rows])
    return Extract(
        location=f"{folder}/{pattern}",
        batches=table_rows.to_batches(),
        schema=table_rows.schema,
        rejects=rejects,
        apply_types=True,
    )


def front_matter(text: str) -> tuple[dict[str, str], str]:
    """({key: value as text}, the rest) of a document; ({}, text) without front matter.
    Line endings may be `\n` or `\r\n`; keys must be lower_snake_case names, since they
    become columns."""
    opening = re.match(r"---\r?\n", text)
    if not opening:
        return {}, text
    closing = re.search(r"^---\r?$\n?", text[opening.end() :], re.MULTILINE)
    if not closing:
        raise ValueError("it opens with `---` but has no closing `---` line")
    head = text[opening.end() : opening.end() + closing.start()]
    rest = text[opening.end() + closing.end() :]
    try:
        values = yaml.safe_load(head) or {}
    except yaml.YAMLError as exc:
        raise ValueError(f"not valid YAML ({exc})") from None
    plain = str | int | float | bool | datetime.date  # YAML reads 2024-05-01 as a date
    if not isinstance(values, dict) or not all(
        isinstance(k, str) and (v is None or isinstance(v, plain)) for k, v in values.items()
    ):
        raise ValueError("it must be a mapping of names to plain values")
    odd = sorted(k for k in values if not _COLUMN.fullmatch(k))
    if odd:
        raise ValueError(f"keys {odd} are not lower_snake_case names; they become columns")
    reserved = {"doc_id", "title", "body", "sha256"} & set(values)
    if reserved:
        raise ValueError(f"{sorted(reserved)} are set by Groundwork; rename them")
    text = {k: v.isoformat() if isinstance(v, datetime.date) else v for k, v in values.items()}
    return {k: None if v is None else str(v) for k, v in text.items()}, rest


def _title(text: str, path: Path) -> str:
    for line in text.splitlines():
        if line.startswith("# "):
            return line[2:].strip()
    return path.stem
