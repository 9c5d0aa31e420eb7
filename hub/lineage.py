"""Which tables a product's SQL reads, and which source columns each of its columns comes
from, by parsing the SQL (sqlglot, DuckDB dialect), never with a regex.

Column lineage is what carries a PII class through a product: `SELECT email AS contact`,
`lower(phone)`, `name || email`, a CTE or a subquery all keep the class of the columns they
are made from. A product whose columns cannot be traced is reported as such, so governance
can refuse to publish it to anyone but the steward rather than guess.
"""

from __future__ import annotations

from functools import lru_cache

LAYERS_READ = ("raw", "unified", "serve")


class LineageError(Exception):
    """The SQL could not be traced column by column."""


def tables_read(sql: str) -> list[str]:
    """`layer.table` of every store table the SQL reads, in order of first mention."""
    from sqlglot import exp

    try:
        tree = _parse(sql)
    except LineageError:
        return []
    found = [f"{t.db}.{t.name}".lower() for t in tree.find_all(exp.Table) if t.db in LAYERS_READ]
    return list(dict.fromkeys(found))


def column_sources(
    sql: str, schema: dict[str, dict[str, dict[str, str]]], columns: list[str]
) -> dict[str, set[tuple[str, str]]]:
    """output column -> {(`layer.table`, column)} it is computed from. `schema` is
    {layer: {table: {column: type}}} of the tables read; `columns` are the output columns
    as DuckDB reports them, which must be the ones the parser sees."""
    from sqlglot import exp
    from sqlglot.errors import SqlglotError
    from sqlglot.lineage import lineage
    from sqlglot.optimizer.qualify import qualify

    try:
        tree = qualify(_parse(sql).copy(), schema=schema, dialect="duckdb")
        names = [s.alias_or_name for s in tree.selects]
        if [n.lower() for n in names] != [c.lower() for c in columns]:
            raise LineageError(f"the parser sees the columns {names}, DuckDB {columns}")
        sources: dict[str, set[tuple[str, str]]] = {}
        for name, column in zip(names, columns, strict=True):
            node = lineage(name, tree, schema=schema, dialect="duckdb")
            leaves = [n for n in node.walk() if not n.downstream]
            sources[column] = {
                (f"{n.source.db}.{n.source.name}".lower(), n.name.split(".")[-1].strip('"'))
                for n in leaves
                if isinstance(n.source, exp.Table)
            }
    except SqlglotError as exc:
        raise LineageError(str(exc).splitlines()[0]) from None
    return sources


@lru_cache(maxsize=256)
def _parse(sql: str):  # noqa: ANN202 - sqlglot expression
    import sqlglot
    from sqlglot.errors import SqlglotError

    try:
        return sqlglot.parse_one(sql, dialect="duckdb")
    except SqlglotError as exc:
        raise LineageError(str(exc).splitlines()[0]) from None
