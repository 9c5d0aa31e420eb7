"""`hub init --from PATH`: the sources and primary keys that PATH suggests.

PATH may be:
- a folder of files (or one file): CSV/TSV, Parquet, JSON and NDJSON, plain or `.gz`/`.zst`,
  read by DuckDB as the `files` connector reads them (types from the whole file). Files whose
  names differ only by a trailing number or date (`invoices_2024.csv`, `invoices_2025.csv`)
  are one table read by one glob; Markdown files become a `documents` source.
- a SQLite file, or a database URL (`postgresql://…`, `mysql+pymysql://…`, `duckdb:///…`):
  the tables of its default schema (or `schema`), inspected by SQLAlchemy.

A table's primary key is the one the database declares; else the column whose values are all
present and all different over the rows read, names like `id` and `<table>_id` first; else
none, and the file says why. The key is what the data shows today, not a promise: the
written file calls it proposed. A password in a URL is never written: it becomes
`${<SOURCE>_PASSWORD}`, and `environment` says which variable to set.
"""

from __future__ import annotations

import glob
import os
import re
from dataclasses import dataclass, field
from pathlib import Path

from hub.config import ConfigError
from hub.secrets import redact_url, scrub

_FILE_KINDS = {
    ".csv": "csv",
    ".tsv": "csv",
    ".parquet": "parquet",
    ".json": "json",
    ".ndjson": "ndjson",
    ".jsonl": "ndjson",
}
"The file kinds the `files` connector reads (`.txt` too, as CSV, but it is rarely a table)."
_COMPRESSED = (".gz", ".zst")
_READERS = {
    "csv": "read_csv(?, union_by_name = true, sample_size = -1)",
    "parquet": "read_parquet(?, union_by_name = true)",
    "json": "read_json(?, format = 'auto', union_by_name = true, sample_size = -1)",
    "ndjson": "read_json(?, format = 'newline_delimited', union_by_name = true, sample_size = -1)",
}
_NOT_KEYS = re.compile(r"FLOAT|DOUBLE|REAL|BOOL|JSON|BLOB|BYTEA|BINARY|STRUCT|MAP|\[\]|ARRAY")
"Types never proposed as a key (floats, booleans, nested and binary values)."
_PASSWORD_TOKEN = "HUBINITPASSWORD"


@dataclass
class ProposedTable:
    name: str
    "Its key under `tables:` (lower_snake_case)."
    settings: dict[str, str]
    "`pattern` of a files table; `name` of a database table whose name is not its key."
    columns: list[tuple[str, str]]
    "(column, type) as read."
    rows: int | None
    primary_key: list[str]
    why: str
    "Where the key comes from, or why there is none."


@dataclass
class Proposal:
    source: str
    kind: str
    settings: dict[str, str]
    "`path` or `url`, as written in hub.yaml."
    tables: list[ProposedTable]
    described: str
    "What was read, without credentials: `exports/ (4 files)`, `postgresql://u@h/db`."
    environment: dict[str, str] = field(default_factory=dict)
    "Variables the file takes from the environment -> what to set them to."
    skipped: list[str] = field(default_factory=list)
    "What was left out, and why."
    extra: list[Proposal] = field(default_factory=list)
    "Other sources found beside (the Markdown documents of a folder)."


def propose(target: str, project: Path, schema: str | None = None) -> Proposal:
    """What `target` (a folder, a file, a SQLite file or a database URL) holds, as a source
    of the project whose hub.yaml is in `project`."""
    if "://" in target:
        return from_database(target, project, schema)
    path = Path(target).expanduser().resolve()
    if not path.exists():
        raise ConfigError(
            f"--from {target}: no such file or folder. Fix: give a folder of CSV/Parquet/JSON "
            "files, a SQLite file, or a database URL such as postgresql://user@host/db."
        )
    if path.is_file() and _is_sqlite(path):
        return from_database(f"sqlite:///{path}", project, schema)
    if path.is_file():
        return from_files(path.parent, [path], project)
    files = sorted(p for p in path.iterdir() if p.is_file() and not p.name.startswith("."))
    return from_files(path, files, project)


def _is_sqlite(path: Path) -> bool:
    with path.open("rb") as handle:
        return handle.read(16) == b"SQLite format 3\x00"


# --- files ------------------------------------------------------------------------------


def from_files(folder: Path, files: list[Path], project: Path) -> Proposal:
    import duckdb

    source = identifier(folder.name, fallback="files")
    tables_of = [f for f in files if _kind(f)]
    documents = [f for f in files if f.suffix.lower() == ".md"]
    skipped = [f"{f.name}: not a file kind Groundwork reads" for f in files if f not in tables_of]
    skipped = [s for s in skipped if not any(s.startswith(d.name + ":") for d in documents)]
    proposal = Proposal(
        source, "files", {"path": _relative(folder, project)}, [], f"{folder}/", skipped=skipped
    )
    with duckdb.connect() as con:
        for name, group, pattern in _groups(folder, tables_of):
            kind = _kind(group[0])
            try:
                proposal.tables.append(
                    _inspect_files(con, name, [str(f) for f in group], kind, pattern)
                )
            except duckdb.Error as exc:
                first = str(exc).strip().splitlines()[0]
                proposal.skipped.append(f"{pattern}: DuckDB cannot read it as {kind} ({first})")
    if documents:
        pattern = "*.md"
        table = ProposedTable(
            "documents",
            {"pattern": pattern},
            [],
            len(documents),
            ["doc_id"],
            "a document's path in the folder",
        )
        proposal.extra.append(
            Proposal(
                f"{source}_docs",
                "documents",
                {"path": proposal.settings["path"]},
                [table],
                f"{folder}/{pattern}",
            )
        )
    if not proposal.tables and not documents:
        raise ConfigError(
            f"--from {folder}: no CSV, TSV, Parquet, JSON or NDJSON file DuckDB can read"
            + (f" ({'; '.join(proposal.skipped)})" if proposal.skipped else "")
            + ". Fix: point --from at the folder holding the files."
        )
    return proposal


def _kind(path: Path) -> str | None:
    suffixes = [s.lower() for s in path.suffixes]
    if suffixes and suffixes[-1] in _COMPRESSED:
        suffixes = suffixes[:-1]
    return _FILE_KINDS.get(suffixes[-1]) if suffixes else None


def _groups(folder: Path, files: list[Path]) -> list[tuple[str, list[Path], str]]:
    """(table, files, glob): files whose names differ only by a trailing number or date
    share a table, when one glob reads exactly them; any other file is a table of its own."""
    by_stem: dict[tuple[str, str], list[Path]] = {}
    for path in files:
        stem, suffix = _split_name(path.name)
        base = re.sub(r"[_\-. ]\d[\d_\-. ]*$", "", stem) or stem
        by_stem.setdefault((base, suffix), []).append(path)
    found: list[tuple[str, list[Path], str]] = []
    for (base, suffix), group in by_stem.items():
        pattern = f"{glob.escape(base)}*{suffix}"
        if len(group) > 1 and sorted(folder.glob(pattern)) == sorted(group):
            found.append((base, group, pattern))
        else:
            found += [(_split_name(p.name)[0], [p], glob.escape(p.name)) for p in group]
    names: set[str] = set()
    unique = []
    for base, group, pattern in found:
        name = identifier(base, fallback="table")
        number = 1
        while name in names:  # `orders.csv` beside `orders.json`
            number += 1
            name = f"{identifier(base, fallback='table')}_{number}"
        names.add(name)
        unique.append((name, group, pattern))
    return sorted(unique, key=lambda found: found[0])


def _split_name(filename: str) -> tuple[str, str]:
    """`invoices_2024.csv.gz` -> (`invoices_2024`, `.csv.gz`)."""
    suffix = ""
    stem = filename
    for _ in range(2):
        head, dot, tail = stem.rpartition(".")
        if not dot or not head or f".{tail.lower()}" not in (*_FILE_KINDS, *_COMPRESSED):
            break
        suffix = f".{tail}{suffix}"
        stem = head
    return stem, suffix


def _inspect_files(con, name: str, files: list[str], kind: str, pattern: str) -> ProposedTable:  # noqa: ANN001
    relation = f"SELECT * FROM {_READERS[kind]}"
    columns = [(row[0], row[1]) for row in con.execute(f"DESCRIBE {relation}", [files]).fetchall()]
    rows, counts = _counts(con, relation, [files], columns)
    key, why = choose_key(name, columns, rows, counts)
    return ProposedTable(name, {"pattern": pattern}, columns, rows, key, why)


def _counts(con, relation: str, params: list, columns: list[tuple[str, str]]):  # noqa: ANN001, ANN202
    """Rows, and per candidate column (values present, distinct values), in one pass."""
    from hub.store import quote_column

    candidates = [c for c, kind in columns if not _NOT_KEYS.search(kind.upper())]
    measures = ["count(*)"]
    for column in candidates:
        quoted = quote_column(column)
        measures += [f"count({quoted})", f"count(DISTINCT {quoted})"]
    found = con.execute(f"SELECT {', '.join(measures)} FROM ({relation})", params).fetchone()
    counts = {c: (found[1 + 2 * i], found[2 + 2 * i]) for i, c in enumerate(candidates)}
    return found[0], counts


# --- databases --------------------------------------------------------------------------


def from_database(url_text: str, project: Path, schema: str | None = None) -> Proposal:
    import sqlalchemy as sa

    try:
        url = sa.engine.make_url(url_text)
    except sa.exc.ArgumentError:
        raise ConfigError(
            f"--from {redact_url(url_text)}: not a database URL. Fix: write it as SQLAlchemy "
            "does, e.g. postgresql://user@127.0.0.1:5432/db or sqlite:///crm.sqlite."
        ) from None
    shown = redact_url(url.render_as_string(hide_password=True))
    backend = url.get_backend_name()
    database = Path(url.database or "").stem if backend in ("sqlite", "duckdb") else url.database
    source = identifier(schema or database or backend, fallback="database")
    try:
        engine = sa.create_engine(url)
    except (sa.exc.NoSuchModuleError, ImportError) as exc:
        raise ConfigError(
            f"--from {shown}: SQLAlchemy has no driver for it ({exc}). Fix: install the "
            "driver (`pip install psycopg2-binary`, `pymysql`, ...) or name one in the URL "
            "(`mysql+pymysql://...`)."
        ) from None
    proposal = Proposal(source, "sql", {"url": _written_url(url, source, project)}, [], shown)
    if url.password:
        variable = f"{source.upper()}_PASSWORD"
        proposal.environment[variable] = f"the password of {shown}"
    try:
        with engine.connect() as conn:
            inspector = sa.inspect(conn)
            names = inspector.get_table_names(schema=schema)
            for table in sorted(names, key=lambda n: identifier(n, fallback="table")):
                proposal.tables.append(_inspect_table(conn, inspector, table, schema))
    except sa.exc.SQLAlchemyError as exc:
        first = scrub(str(exc.orig if getattr(exc, "orig", None) else exc)).strip().splitlines()
        raise ConfigError(
            f"--from {shown}: cannot read the database ({first[0] if first else type(exc)}). "
            "Fix: check that it runs and the URL (host, port, database, user); give the "
            "password in the URL, it is not written to hub.yaml."
        ) from None
    finally:
        engine.dispose()
    if not proposal.tables:
        where = f"schema {schema}" if schema else "its default schema"
        raise ConfigError(
            f"--from {shown}: no tables in {where}. Fix: pass --schema NAME for another schema."
        )
    return proposal


def _written_url(url, source: str, project: Path) -> str:  # noqa: ANN001 - a SQLAlchemy URL
    """The URL as hub.yaml holds it: the password as `${<SOURCE>_PASSWORD}`, a SQLite file
    relative to hub.yaml when it lies under it, a DuckDB file as an absolute path."""
    backend = url.get_backend_name()
    if backend in ("sqlite", "duckdb") and url.database and url.database != ":memory:":
        file = Path(url.database).expanduser().resolve()
        url = url.set(database=_relative(file, project) if backend == "sqlite" else str(file))
    if url.password:
        url = url.set(password=_PASSWORD_TOKEN)
    text = url.render_as_string(hide_password=False)
    return text.replace(_PASSWORD_TOKEN, f"${{{source.upper()}_PASSWORD}}")


def _inspect_table(conn, inspector, table: str, schema: str | None) -> ProposedTable:  # noqa: ANN001
    import sqlalchemy as sa

    columns = [(c["name"], str(c["type"])) for c in inspector.get_columns(table, schema=schema)]
    declared = inspector.get_pk_constraint(table, schema=schema).get("constrained_columns") or []
    name = identifier(table, fallback="table")
    settings = {"name": f"{schema}.{table}" if schema else table} if schema or name != table else {}
    if declared:
        return ProposedTable(
            name, settings, columns, None, list(declared), "declared by the database"
        )
    candidates = [c for c, kind in columns if not _NOT_KEYS.search(kind.upper())]
    subject = sa.table(table, *[sa.column(c) for c, _ in columns], schema=schema)
    measures = [sa.func.count()]
    for column in candidates:
        measures += [sa.func.count(subject.c[column]), sa.func.count(subject.c[column].distinct())]
    found = conn.execute(sa.select(*measures).select_from(subject)).one()
    counts = {c: (found[1 + 2 * i], found[2 + 2 * i]) for i, c in enumerate(candidates)}
    key, why = choose_key(name, columns, found[0], counts)
    return ProposedTable(name, settings, columns, found[0], key, why)


# --- keys and names ---------------------------------------------------------------------


def choose_key(
    table: str, columns: list[tuple[str, str]], rows: int, counts: dict[str, tuple[int, int]]
) -> tuple[list[str], str]:
    """The column whose values are all present and all different, names like `id` and
    `<table>_id` first; ([], why) when there is none."""
    if not rows:
        return [], "the table is empty, so the data cannot tell its key"
    unique = [c for c, _ in columns if counts.get(c) == (rows, rows)]
    if not unique:
        return [], (
            f"no column is unique and not null over the {rows:,} rows read; "
            "declare the key (or a composite [a, b])"
        )
    singular = re.sub(r"(ies|ses|s)$", lambda m: "y" if m[1] == "ies" else m[1][:-1], table)
    own = {f"{table}_id", f"{singular}_id", f"{table}id", f"{singular}id"}

    def rank(column: str) -> int:
        lowered = column.lower()
        if lowered == "id":
            return 0
        if lowered in own:
            return 1
        if lowered.endswith(("_id", "id")):
            return 2
        if lowered.endswith(("_key", "_code", "uuid", "_no", "_number")):
            return 3
        return 4

    best = min(unique, key=lambda c: (rank(c), [n for n, _ in columns].index(c)))
    return [best], f"unique and not null in all {rows:,} rows read"


def identifier(text: str, *, fallback: str) -> str:
    """`Order Items-2024` -> `order_items_2024`: a lower_snake_case name hub.yaml accepts."""
    name = re.sub(r"[^a-z0-9]+", "_", re.sub(r"([a-z0-9])([A-Z])", r"\1_\2", text).lower())
    name = name.strip("_")
    if not name:
        return fallback
    return name if name[0].isalpha() else f"{fallback}_{name}"


def _relative(path: Path, project: Path) -> str:
    """`path` relative to the project's folder when it lies under it, else absolute."""
    try:
        return path.resolve().relative_to(project.resolve()).as_posix() or "."
    except ValueError:
        return os.fspath(path.resolve())
