"""Document folders: one row per file (Markdown or text), ready for search and citation.

`doc_id` is the path relative to the folder, so citations stay stable across loads.
A file that is not UTF-8 text is rejected with its path.
"""

from __future__ import annotations

import hashlib
from pathlib import Path

import pyarrow as pa

from connectors.base import Extract, Reject, SourceReadError, with_origin
from hub.config import SourceConfig, TableConfig


def read(source: SourceConfig, name: str, table: str, config: TableConfig, root: Path) -> Extract:
    folder = (root / source.path).resolve() if source.path else root
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
            rejects.append(Reject(str(path), f"not UTF-8 text ({exc.reason})", data[:200].hex()))
            continue
        rows.append(
            {
                "doc_id": path.relative_to(folder).as_posix(),
                "title": _title(text, path),
                "body": text,
                "sha256": hashlib.sha256(data).hexdigest(),
            }
        )
    table_rows = (
        pa.Table.from_pylist(rows) if rows else pa.table({"doc_id": pa.array([], pa.string())})
    )
    return Extract(
        rows=with_origin(table_rows, [str(folder / r["doc_id"]) for r in rows]),
        rejects=rejects,
        location=f"{folder}/{pattern}",
    )


def _title(text: str, path: Path) -> str:
    for line in text.splitlines():
        if line.startswith("# "):
            return line[2:].strip()
    return path.stem
