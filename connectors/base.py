"""What every connector shares: the config of a source and its tables, and what a read hands
to the loader.

A connector module (`connectors/<kind>.py`) holds a `Source` model (its `kind`, where the
source is, and a `tables` mapping of its own `Table` model) and a `read` function. `hub.yaml`
picks the model by `kind`; nothing outside the module lists kinds.

A read returns an `Extract`, in one of two forms the loader runs inside the store's load
transaction:
- `sql`: a SELECT that DuckDB runs in the store's connection (its own CSV, Parquet and JSON
  readers, its SQLite, PostgreSQL and MySQL scanners), after the `setup` statements; the
  fastest path, as fast as DuckDB reads;
- `batches`: Arrow record batches a Python reader produced (HTTP pages, documents, any other
  SQLAlchemy database), already typed or to be typed by the loader from the declared types.
Rows it could not read are `Reject`s that keep the original record and the reason.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Annotated, Any, Literal

import pyarrow as pa
from pydantic import BaseModel, ConfigDict, Field, model_validator

ORIGIN_COLUMN = "_hub_origin"
"Where each row came from (file, page URL, table); connectors fill it, the loader keeps it."
NULL_VALUES_DEFAULT = ("",)
Contract = Literal["evolve", "freeze", "discard_columns"]
Write = Literal["replace", "append", "merge"]


class SourceReadError(Exception):
    """A source could not be read at all; nothing was loaded and the last good data stays."""


class Model(BaseModel):
    model_config = ConfigDict(extra="forbid", populate_by_name=True)


class Column(Model):
    description: str = ""
    "What the column means, shown in the catalog and the Dagster UI."
    pii: str | None = None
    "PII class (`email`, `phone`, `name`, ...); governance policies mask by class."
    type: str | None = None
    "A DuckDB type (`INTEGER`, `DECIMAL(12,2)`, `TIMESTAMP`); declared types win over inference."
    format: str | None = None
    "strptime format of a DATE or TIMESTAMP column, e.g. `%d/%m/%Y`."


CHECK_NAME = r"^[A-Za-z0-9_]+$"
"Dagster's rule for check names."
Owner = Annotated[str, Field(pattern=r"^(team:[A-Za-z0-9_-]+|[^@\s]+@[^@\s]+\.[^@\s]+)$")]
"Who answers for an asset, as Dagster shows it: an e-mail address or `team:<name>`."
_TARGET = re.compile(
    r"^(?:(?P<layer>raw|unified|serve)\.)?(?P<table>[A-Za-z_]\w*)\."
    r"(?P<columns>\[[^\]]*\]|[A-Za-z_]\w*)$"
)


class Reference(Model):
    """A foreign key, checked as a check on its table."""

    target: str
    "`<source>__<table>.<column>`, or in another layer `unified.<entity>.<column>`; "
    "composite: `<table>.[x, y]` with the key written `[a, b]`."
    severity: Literal["error", "warn"] = "error"
    "`error` is blocking; `warn` reports orphans without stopping anything."
    name: str | None = Field(default=None, pattern=CHECK_NAME)
    "Check name (default `references__<column>`)."

    @model_validator(mode="after")
    def _target_form(self) -> Reference:
        if not _TARGET.match(self.target.strip()):
            raise ValueError(
                f"target {self.target!r}: write `<source>__<table>.<column>`, "
                "`unified.<entity>.<column>` or `<table>.[x, y]`"
            )
        return self

    def target_table(self, layer: str) -> str:
        """`<layer>.<table>` of the target; its own layer when the target names none."""
        found = _TARGET.match(self.target.strip())
        return f"{found['layer'] or layer}.{found['table']}"

    @property
    def target_columns(self) -> list[str]:
        return column_list(_TARGET.match(self.target.strip())["columns"])


def column_list(text: str) -> list[str]:
    """`a` -> [a]; `[a, b]` -> [a, b]."""
    text = text.strip()
    if text.startswith("[") and text.endswith("]"):
        return [c.strip() for c in text[1:-1].split(",") if c.strip()]
    return [text]


class Table(Model):
    primary_key: list[str] = Field(default_factory=list)
    "Columns that identify a row; checked unique and not null (blocking); `merge` upserts on it."
    columns: dict[str, Column] = Field(default_factory=dict)
    "Descriptions, PII classes and declared types of columns."
    references: dict[str, Reference] = Field(default_factory=dict)
    "Foreign keys: column (or `[a, b]`) -> `<source>__<table>.<column>` (blocking), or ->"
    "`{target: ..., severity: warn|error, name: ...}`; targets may be in `unified` too."
    write: Write = "replace"
    "`replace` the table, `append` the rows read, or `merge` them on the primary key."
    cursor: str | None = None
    "Incremental: only rows whose cursor is past the last value loaded are read."
    max_rejects: int | None = None
    "Rejected rows a load may have before its `rejects` check blocks (default 0)."
    max_reject_share: float | None = Field(default=None, ge=0, le=1)
    "Or: the share of rows read that may be rejected (0.01 = 1%)."
    max_row_drop: float | None = Field(default=None, ge=0, le=1)
    "The share of its rows a new batch may lose against the previous one (0.5) before the "
    "`row_drop` check blocks."
    null_values: list[str] | None = None
    "Texts that mean NULL here (default: the source's)."
    schema_contract: Contract | None = Field(default=None, alias="schema")
    "`evolve` (default), `freeze` (a changed schema fails the load) or `discard_columns`."

    @model_validator(mode="before")
    @classmethod
    def _one_key_as_list(cls, data: Any) -> Any:
        if isinstance(data, dict) and isinstance(data.get("primary_key"), str):
            data = {**data, "primary_key": [data["primary_key"]]}
        if isinstance(data, dict) and isinstance(data.get("references"), dict):
            short = {
                k: {"target": v} if isinstance(v, str) else v for k, v in data["references"].items()
            }
            data = {**data, "references": short}
        return data

    @model_validator(mode="after")
    def _write_needs(self) -> Table:
        if self.write == "merge" and not self.primary_key:
            raise ValueError("`write: merge` upserts on the primary key: add `primary_key`")
        if self.max_rejects is not None and self.max_reject_share is not None:
            raise ValueError("give `max_rejects` or `max_reject_share`, not both")
        for key, reference in self.references.items():
            if len(column_list(key)) != len(reference.target_columns):
                raise ValueError(
                    f"references.{key}: {len(column_list(key))} column(s) cannot reference "
                    f"{len(reference.target_columns)} in {reference.target}"
                )
        return self

    def declared_types(self) -> dict[str, str]:
        return {name: c.type for name, c in self.columns.items() if c.type}


class SourceBase(Model):
    kind: str
    "Which connector reads it: the name of a module in `connectors/`."
    tables: dict[str, Table]
    "Tables (or endpoints, or document sets) to load, each into `raw.<source>__<table>`."
    schedule: str | None = None
    "Cron expression: a Dagster schedule refreshes this source."
    owners: list[Owner] = Field(default_factory=list)
    "Who answers for its tables (Dagster asset owners)."
    null_values: list[str] = Field(default_factory=lambda: list(NULL_VALUES_DEFAULT))
    "Texts that mean NULL wherever the source has text (CSV, JSON strings, HTTP)."
    schema_contract: Contract = Field(default="evolve", alias="schema")
    "What a change of columns or types does: `evolve`, `freeze` or `discard_columns`."

    def location(self, root: Any) -> str:
        """Where the source is, as logs may show it (no credentials)."""
        return ""

    def null_values_of(self, table: Table) -> list[str]:
        return list(table.null_values if table.null_values is not None else self.null_values)

    def contract_of(self, table: Table) -> Contract:
        return table.schema_contract or self.schema_contract


class FolderSource(SourceBase):
    """A source that is a folder of files (`files`, `documents`)."""

    path: str
    "The folder to read, relative to hub.yaml."

    def folder(self, root: Path) -> Path:
        return (root / self.path).resolve()

    def location(self, root: Path) -> str:
        return str(self.folder(root))


@dataclass(frozen=True)
class Reject:
    where: str
    "The file and line, page or key of the rejected record."
    reason: str
    "Why it was rejected, in words a data steward can act on."
    record: str
    "The record as it was read, as text."
    raw: bytes | None = None
    "The record's original bytes where they are not valid text (a latin-1 line, kept exactly)."
    column: str | None = None
    "The column whose value did not fit, when that is why."


@dataclass
class Extract:
    """What a read hands to the loader: rows to load and rows it rejected."""

    location: str
    "Where the data was read from, without credentials (for logs and the audit trail)."
    sql: str | None = None
    "A SELECT DuckDB runs in the store's connection, producing the rows (with `_hub_origin`)."
    params: list[Any] = field(default_factory=list)
    setup: list[str] = field(default_factory=list)
    "Statements run before `sql` and outside the transaction (LOAD an extension, ATTACH)."
    teardown: list[str] = field(default_factory=list)
    batches: Iterable[pa.RecordBatch] | None = None
    "Or: the rows as Arrow record batches (with `_hub_origin`)."
    schema: pa.Schema | None = None
    "The schema of `batches` (needed when there are none)."
    apply_null_values: bool = False
    "The loader turns the source's `null_values` in text columns into NULL (JSON, HTTP)."
    apply_types: bool = False
    "The loader casts the declared column types (a reader that could not: all but CSV)."
    rejects: list[Reject] = field(default_factory=list)
    "Rows the reader itself had to reject."
    collect_rejects: Callable[[Any], list[Reject]] | None = None
    "Called with the store connection after `sql` ran: the rejects DuckDB kept (CSV)."
    cleanup: Callable[[], None] | None = None
    "Called once the load is over, whatever happened (a spool file to remove)."
    explain: Callable[[Exception], str | None] | None = None
    "What a DuckDB error while reading means for this source (a missing table, a server"
    "that cannot be reached), in words with the fix; None: the loader's own words."


def with_origin(rows: pa.Table, origin: str | list[str]) -> pa.Table:
    values = origin if isinstance(origin, list) else [origin] * rows.num_rows
    return rows.append_column(ORIGIN_COLUMN, pa.array(values, pa.string()))
