"""Files: CSV, Parquet, JSON and NDJSON read by DuckDB's own readers.

CSV lines that do not parse (too many columns, a value that does not cast, an unterminated
quote) are not dropped: DuckDB's `store_rejects` keeps them and they become `Reject`s with
file and line number.
"""

from __future__ import annotations

from pathlib import Path

import duckdb

from connectors.base import ORIGIN_COLUMN, Extract, Reject, SourceReadError
from hub.config import SourceConfig, TableConfig

_READERS = {
    ".csv": "read_csv",
    ".parquet": "read_parquet",
    ".json": "read_json_auto",
    ".ndjson": "read_json_auto",
    ".jsonl": "read_json_auto",
}


def read(source: SourceConfig, name: str, table: str, config: TableConfig, root: Path) -> Extract:
    folder = (root / source.path).resolve() if source.path else root
    pattern = config.pattern or f"{table}.*"
    files = sorted(str(p) for p in folder.glob(pattern) if p.suffix.lower() in _READERS)
    if not files:
        raise SourceReadError(
            f"source {name}, table {table}: no files match {pattern!r} in {folder}. "
            "Fix: check `path` and `pattern` in hub.yaml, or add the files."
        )
    suffixes = {Path(f).suffix.lower() for f in files}
    if len(suffixes) > 1:
        raise SourceReadError(
            f"source {name}, table {table}: {pattern!r} matches files of several kinds "
            f"{sorted(suffixes)}. Fix: narrow `pattern` to one kind."
        )
    reader = _READERS[suffixes.pop()]
    con = duckdb.connect()
    try:
        if reader == "read_csv":
            rows = con.execute(
                "SELECT * RENAME (filename AS _hub_origin) FROM read_csv($files, header = true, "
                "filename = true, store_rejects = true)",
                {"files": files},
            ).to_arrow_table()
            rejects = _csv_rejects(con)
        else:
            rows = con.execute(
                f"SELECT * RENAME (filename AS {ORIGIN_COLUMN}) "
                f"FROM {reader}($files, filename = true, union_by_name = true)",
                {"files": files},
            ).to_arrow_table()
            rejects = []
    except duckdb.Error as exc:
        raise SourceReadError(
            f"source {name}, table {table}: DuckDB could not read {pattern!r} in {folder}: "
            f"{exc}. Fix: repair or remove the file named above."
        ) from exc
    finally:
        con.close()
    return Extract(rows=rows, rejects=rejects, location=f"{folder}/{pattern}")


def _csv_rejects(con: duckdb.DuckDBPyConnection) -> list[Reject]:
    found = con.execute(
        "SELECT s.file_path, e.line, string_agg(e.error_type || ': ' || e.error_message, '; '), "
        "any_value(e.csv_line) FROM reject_errors e JOIN reject_scans s USING (scan_id, file_id) "
        "GROUP BY ALL ORDER BY s.file_path, e.line"
    ).fetchall()
    return [
        Reject(where=f"{Path(path).name} line {line}", reason=reason, record=record or "")
        for path, line, reason, record in found
    ]
