"""Files: CSV/TSV, Parquet, JSON and NDJSON, plain or compressed (`.gz`, `.zst`), read by
DuckDB's own readers inside the store's load: as fast as DuckDB reads.

CSV is read with the options declared (`csv:`), `null_values` as DuckDB's `nullstr`, the
declared column types (and date/timestamp formats), and types inferred from the *whole*
file (`sample_size = -1`), so sorting a file never changes its types or the rows kept.
Lines that do not parse or a value that does not fit its type are not dropped: DuckDB's
`store_rejects` keeps them, and each becomes a `Reject` with file, line, column and value;
a line that is not valid text in the declared encoding keeps its original bytes. Files of
a glob with different columns are read one by one and united by name, rejects still kept.
"""

from __future__ import annotations

import csv
import gzip
import io
import uuid
from pathlib import Path
from typing import Literal

from pydantic import Field

from connectors.base import ORIGIN_COLUMN, Extract, FolderSource, Model, Reject, SourceReadError
from connectors.base import Table as BaseTable
from hub.store import quote_ident, quote_literal

_KINDS = {
    ".csv": "csv",
    ".tsv": "csv",
    ".txt": "csv",
    ".parquet": "parquet",
    ".json": "json",
    ".ndjson": "ndjson",
    ".jsonl": "ndjson",
}
_COMPRESSED = (".gz", ".zst")


class Csv(Model):
    delimiter: str | None = None
    "Field separator (default: detected; `\\t` for TSV)."
    quote: str | None = None
    escape: str | None = None
    header: bool = True
    "The first line names the columns."
    encoding: Literal["utf-8", "utf-16", "latin-1"] = "utf-8"
    "Text encoding of the files (DuckDB reads these three)."
    skip: int = Field(default=0, ge=0)
    "Lines to skip before the header."


class Table(BaseTable):
    pattern: str | None = None
    "Glob of the files under the source path (default `<table>.*`)."


class Source(FolderSource):
    kind: Literal["files"]
    csv: Csv = Field(default_factory=Csv)
    "How CSV files are written (defaults: detected from the whole file)."
    tables: dict[str, Table]


def read(
    source: Source, name: str, table: str, config: Table, root: Path, since: object = None
) -> Extract:
    folder = source.folder(root)
    pattern = config.pattern or f"{table}.*"
    files = sorted(str(p) for p in folder.glob(pattern) if p.is_file() and _kind(p))
    if not files:
        raise SourceReadError(
            f"source {name}, table {table}: no files match {pattern!r} in {folder}. "
            "Fix: check `path` and `pattern` in hub.yaml, or add the files."
        )
    kinds = {_kind(Path(f)) for f in files}
    if len(kinds) > 1:
        raise SourceReadError(
            f"source {name}, table {table}: {pattern!r} matches files of several kinds "
            f"{sorted(kinds)}. Fix: narrow `pattern` to one kind."
        )
    kind = kinds.pop()
    location = f"{folder}/{pattern}"
    if kind == "csv":
        return _csv(source, name, table, config, files, location)
    reader = "read_parquet" if kind == "parquet" else "read_json"
    options = "" if kind == "parquet" else f", format = '{_JSON_FORMAT[kind]}', sample_size = -1"
    sql = f"SELECT * FROM {reader}(?, filename = '{ORIGIN_COLUMN}', union_by_name = true{options})"
    return Extract(
        location=location,
        sql=sql,
        params=[files],
        apply_null_values=kind != "parquet",
        apply_types=True,
    )


_JSON_FORMAT = {"json": "auto", "ndjson": "newline_delimited"}


def _kind(path: Path) -> str | None:
    suffixes = [s.lower() for s in path.suffixes]
    if suffixes and suffixes[-1] in _COMPRESSED:
        suffixes = suffixes[:-1]
    return _KINDS.get(suffixes[-1]) if suffixes else None


def _csv(
    source: Source, name: str, table: str, config: Table, files: list[str], location: str
) -> Extract:
    options = source.csv
    headers = {f: _header(f, options, name, table) for f in files}
    rejects_table = f"_hub_rejects_{uuid.uuid4().hex[:8]}"
    rejects_scan = rejects_table + "_scans"
    arguments = _csv_arguments(source, name, table, config, headers, rejects_table, rejects_scan)
    same = len({tuple(h) for h in headers.values()}) == 1
    groups = [files] if same else [[f] for f in files]  # different columns: united by name
    selects = [f"SELECT * FROM read_csv({_list(group)}{arguments})" for group in groups]
    return Extract(
        location=location,
        sql=" UNION ALL BY NAME ".join(selects),
        collect_rejects=lambda con: _csv_rejects(con, rejects_table, rejects_scan, options, name),
        teardown=[f"DROP TABLE IF EXISTS {t}" for t in (rejects_table, rejects_scan)],
    )


def _list(files: list[str]) -> str:
    return "[" + ", ".join(quote_literal(f) for f in files) + "]"


def _csv_arguments(
    source: Source,
    name: str,
    table: str,
    config: Table,
    headers: dict[str, list[str]],
    rejects_table: str,
    rejects_scan: str,
) -> str:
    options = source.csv
    arguments = {
        "header": options.header,
        "skip": options.skip,
        "encoding": options.encoding,
        "filename": ORIGIN_COLUMN,
        "store_rejects": True,
        "rejects_table": rejects_table,
        "rejects_scan": rejects_scan,
        "nullstr": source.null_values_of(config),
    }
    for key in ("delimiter", "quote", "escape"):
        if getattr(options, key) is not None:
            arguments[{"delimiter": "delim"}.get(key, key)] = getattr(options, key)
    declared = config.declared_types()
    seen = {column for header in headers.values() for column in header}
    unknown = sorted(set(declared) - seen)
    if unknown and options.header:
        raise SourceReadError(
            f"source {name}, table {table}: declared column(s) {unknown} are not in the files' "
            f"header {sorted(seen)}. Fix: correct `columns:` in hub.yaml."
        )
    if declared:
        arguments["types"] = {c: t for c, t in declared.items() if c in seen or not options.header}
    if not seen or not seen <= set(declared):  # types to infer: from the whole file, not a sample
        arguments["sample_size"] = -1
    for type_name, option in (("TIMESTAMP", "timestampformat"), ("DATE", "dateformat")):
        formats = {
            c.format
            for c in config.columns.values()
            if c.format and (c.type or "").upper().startswith(type_name)
        }
        if len(formats) > 1:
            raise SourceReadError(
                f"source {name}, table {table}: several {type_name} formats {sorted(formats)}; "
                f"DuckDB's CSV reader takes one {option} per file. Fix: declare one format, or "
                "read those columns as VARCHAR and convert them downstream."
            )
        if formats:
            arguments[option] = formats.pop()
    return "".join(f", {key} = {_value(value)}" for key, value in arguments.items())


def _value(value: object) -> str:
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, int):
        return str(value)
    if isinstance(value, list):
        return "[" + ", ".join(quote_literal(str(v)) for v in value) + "]"
    if isinstance(value, dict):
        return (
            "{"
            + ", ".join(f"{quote_literal(k)}: {quote_literal(v)}" for k, v in value.items())
            + "}"
        )
    return quote_literal(str(value))


def _header(path: str, options: Csv, name: str, table: str) -> list[str]:
    """The column names of a file's header (none when `header: false`); duplicates refused:
    DuckDB would rename the second one silently."""
    if not options.header or path.lower().endswith(".zst"):
        return []
    try:
        with _open_binary(path) as raw:
            for _ in range(options.skip):
                raw.readline()
            encoding = options.encoding.replace("utf-8", "utf-8-sig")
            line = raw.readline().decode(encoding, errors="replace")
    except (OSError, EOFError) as exc:
        raise SourceReadError(
            f"source {name}, table {table}: cannot read the header of {Path(path).name} "
            f"({exc}). Fix: check the file and `csv.encoding` ({options.encoding})."
        ) from None
    if not line.strip():
        return []
    delimiter = options.delimiter or _guess_delimiter(line)
    quote = options.quote or '"'
    columns = next(csv.reader([line], delimiter=delimiter, quotechar=quote))
    columns = [c.strip() for c in columns]
    twice = sorted({c for c in columns if columns.count(c) > 1})
    if twice:
        raise SourceReadError(
            f"source {name}, table {table}: {Path(path).name} names the column(s) {twice} "
            "more than once in its header. Fix: rename them in the export."
        )
    return columns


def _guess_delimiter(line: str) -> str:
    counts = {d: line.count(d) for d in (",", ";", "\t", "|")}
    return max(counts, key=counts.get) if any(counts.values()) else ","


def _open_binary(path: str) -> io.BufferedIOBase:
    return gzip.open(path, "rb") if path.lower().endswith(".gz") else open(path, "rb")  # noqa: SIM115


def _csv_rejects(
    con: object, rejects_table: str, rejects_scan: str, options: Csv, source: str
) -> list[Reject]:
    found = con.execute(
        f"SELECT s.file_path, e.line, min(e.line_byte_position), "
        f"coalesce(min(e.column_name) FILTER (WHERE e.error_type = 'CAST'), min(e.column_name)), "
        f"string_agg(e.error_type || ': ' || e.error_message, '; '), any_value(e.csv_line), "
        f"bool_or(e.error_type = 'INVALID ENCODING') "
        f"FROM {quote_ident(rejects_table)} e JOIN {quote_ident(rejects_scan)} s "
        "USING (scan_id, file_id) GROUP BY s.file_path, e.line ORDER BY s.file_path, e.line"
    ).fetchall()
    rejects = []
    for path, line, position, column, reason, record, encoding in found:
        raw = _line_bytes(path, position) if encoding else None
        if encoding:
            reason = (
                f"not valid {options.encoding} text (encoding): set `csv.encoding` of source "
                f"{source} (utf-8, utf-16 or latin-1) to the files' encoding"
            )
        elif column:
            reason = f"column `{column}`: {reason}"
        rejects.append(
            Reject(
                where=f"{Path(path).name} line {line}",
                reason=reason,
                record=record or "",
                raw=raw,
                column=column or None,
            )
        )
    return rejects


def _line_bytes(path: str, position: int | None) -> bytes | None:
    """The line at DuckDB's (1-based) byte position, as it is in the file, byte for byte."""
    if not position:
        return None
    try:
        with _open_binary(path) as file:
            file.seek(position - 1)
            return file.readline().rstrip(b"\r\n")
    except OSError:
        return None
