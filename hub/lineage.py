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
        tree = parse(sql)
    except LineageError:
        return []
    found = [f"{t.db}.{t.name}".lower() for t in tree.find_all(exp.Table) if t.db in LAYERS_READ]
    return list(dict.fromkeys(found))


def column_sources(
    sql: str, schema: dict[str, dict[str, dict[str, str]]], columns: list[str]
) -> dict[str, set[tuple[str, str]]]:
    """output column -> {(`layer.table`, column)} it is computed from. `schema` is
    {layer: {table: {column: type}}} of the tables read; `columns` are the output columns
    as DuckDB reports them, which must be the ones the parser sees.

    Fails closed (LineageError) on anything it cannot follow to a column of a store table:
    a table function (`query()`, `read_csv`), a table outside raw/unified/serve, a whole row
    used as a value (`to_json(c)`), `UNION BY NAME` (matched by name, not position)."""
    from sqlglot.errors import SqlglotError
    from sqlglot.lineage import lineage
    from sqlglot.optimizer.qualify import qualify

    try:
        tree = qualify(parse(sql).copy(), schema=schema, dialect="duckdb")
        _require_store_tables(tree, schema)
        names = [s.alias_or_name for s in tree.selects]
        if [n.lower() for n in names] != [c.lower() for c in columns]:
            raise LineageError(f"the parser sees the columns {names}, DuckDB {columns}")
        sources: dict[str, set[tuple[str, str]]] = {}
        for name, column in zip(names, columns, strict=True):
            node = lineage(name, tree, schema=schema, dialect="duckdb")
            leaves = [n for n in node.walk() if not n.downstream]
            sources[column] = {_leaf_source(n, schema) for n in leaves} - {None}
    except SqlglotError as exc:
        raise LineageError(str(exc).splitlines()[0]) from None
    return sources


def _require_store_tables(tree, schema: dict) -> None:  # noqa: ANN001 - sqlglot expression
    from sqlglot import exp

    ctes = {cte.alias_or_name for cte in tree.find_all(exp.CTE)}
    for table in tree.find_all(exp.Table):
        if not isinstance(table.this, exp.Identifier):
            raise LineageError(f"it calls the table function {table.this.sql(dialect='duckdb')}")
        if not table.db and table.name in ctes:
            continue
        if table.name not in schema.get(table.db, {}):
            raise LineageError(
                f"it reads {table.db}.{table.name}, not a raw, unified or serve table"
            )
    if any(union.args.get("by_name") for union in tree.find_all(exp.Union)):
        raise LineageError("UNION BY NAME matches columns by name, which it cannot follow")


def _leaf_source(leaf, schema: dict) -> tuple[str, str] | None:  # noqa: ANN001 - lineage Node
    """(`layer.table`, column) a lineage leaf reads, None for a value made of no column
    (a literal, `count(*)`); LineageError for anything else."""
    from sqlglot import exp

    if isinstance(leaf.source, exp.Table):
        layer, table = leaf.source.db, leaf.source.name
        column = leaf.name.split(".")[-1].strip('"')
        if column not in schema.get(layer, {}).get(table, {}):
            raise LineageError(f"{leaf.name} is not a column of {layer}.{table}")
        return f"{layer}.{table}".lower(), column
    value = leaf.expression.unalias() if isinstance(leaf.expression, exp.Expression) else None
    if value is None or any(
        isinstance(part, exp.Column | exp.Identifier | exp.Dot) for part in value.walk()
    ):
        raise LineageError(f"{leaf.name} is computed from something it cannot follow")
    return None


@lru_cache(maxsize=256)
def parse(sql: str):  # noqa: ANN202 - sqlglot expression
    """The SQL's tree, parsed once per process (shared: copy it before changing it)."""
    import sqlglot
    from sqlglot.errors import SqlglotError

    try:
        return sqlglot.parse_one(sql, dialect="duckdb")
    except SqlglotError as exc:
        raise LineageError(str(exc).splitlines()[0]) from None
