"""The links between the sections of hub.yaml, resolved when it loads.

Checks name tables and columns, entities name raw tables, products read tables in their
SQL, agents name products and their columns, delivery names a table and its columns, a
reference names another table. A link that points at nothing is a `Problem` carrying the key
path where it is written, so the error gives the line and the fix; no stale link waits for a
run to be found.

What the file alone can know, and so what is resolved here: every table (raw tables from
`sources`, each entity and its crosswalk `unified.<entity>_xref`, each product), the columns
of an entity and its crosswalk (fixed by `fields`), and the columns of a product whose
SELECT names each of them (no `*`, every expression aliased). The columns of a raw table are
the source's own: only the data knows them, so links to raw columns (an entity source's
`id` and `fields`, a check's `column` on a raw table, a reference's columns, a `cursor`) and
the columns a product's SQL reads are resolved when the data is read.
"""

from __future__ import annotations

import difflib
import graphlib
import re
from dataclasses import dataclass
from typing import TYPE_CHECKING

from hub.lineage import LAYERS_READ
from hub.yaml_lines import Path

if TYPE_CHECKING:
    from hub.config import EntitySource, HubConfig

_COLUMN_ARGUMENTS = ("column", "column_A", "column_B", "column_list")
"Arguments of a GX expectation that name columns of the checked table."

Columns = set[str] | None
"A table's columns as the file declares them; None when only the data knows them."


@dataclass(frozen=True)
class Problem:
    path: Path
    'Where the dangling link is written, e.g. `("entities", "customer", "sources", 1, "table")`.'
    what: str
    fix: str
    mention: str | None = None
    "The text the link is written as inside a longer value (a table in the SQL), for its line."


def problems(config: HubConfig) -> list[Problem]:
    """Every link between sections that points at nothing."""
    tables = known_tables(config)
    return [
        *_references(config, tables),
        *_checks(config, tables),
        *_entities(config),
        *_products(config, tables),
        *_agents(config, tables),
        *_delivery(config, tables),
        *_pii_policies(config),
        *_schedules(config),
    ]


_CRON_FIELD = re.compile(r"^[0-9A-Za-z*/,?-]+$")


def _schedules(config: HubConfig) -> list[Problem]:
    """A schedule must look like a cron expression (five fields) when the file loads; the
    Dagster schedule built from it checks the rest (values in range)."""
    found = []
    for name, source in config.sources.items():
        fields = (source.schedule or "").split()
        if source.schedule and (len(fields) != 5 or not all(map(_CRON_FIELD.match, fields))):
            found.append(
                Problem(
                    ("sources", name, "schedule"),
                    f"{source.schedule!r} is not a cron expression",
                    'write five fields: minute hour day-of-month month day-of-week, e.g. "0 6 '
                    '* * *" (every day at 06:00).',
                )
            )
    return found


def known_tables(config: HubConfig) -> dict[str, Columns]:
    """Every store table the file declares (`raw.crm__clients`, `unified.customer`,
    `unified.customer_xref`, `serve.clients`) with its columns where the file fixes them."""
    tables: dict[str, Columns] = {f"raw.{s}__{t}": None for s, t, _ in config.raw_tables()}
    for name, entity in config.entities.items():
        tables[f"unified.{name}"] = {f"{name}_id", *entity.fields, "source_records"}
        tables[f"unified.{name}_xref"] = {"source", "source_id", f"{name}_id", "matched_on"}
    for name, product in config.serve.items():
        tables[f"serve.{name}"] = output_columns(product.sql)
    return tables


def output_columns(sql: str) -> Columns:
    """The columns a SELECT produces when it names each one (a column or an alias); None for
    `*`, an unnamed expression, or SQL the parser cannot read."""
    from sqlglot import exp

    tree = _parse(sql)
    if tree is None or not hasattr(tree, "selects"):
        return None
    names = set()
    for column in tree.selects:
        if isinstance(column, exp.Star) or column.is_star:
            return None
        if not isinstance(column, (exp.Alias, exp.Column)) or not column.alias_or_name:
            return None
        names.add(column.alias_or_name)
    return names or None


def tables_named(sql: str) -> list[tuple[str, str]]:
    """(layer, table) of every table the SQL names, lower case, CTEs and table functions
    left out; the layer is "" when the SQL gives none."""
    from sqlglot import exp

    tree = _parse(sql)
    if tree is None:
        return []
    ctes = {cte.alias_or_name.lower() for cte in tree.find_all(exp.CTE)}
    found = []
    for table in tree.find_all(exp.Table):
        if not isinstance(table.this, exp.Identifier):
            continue
        layer, name = table.db.lower(), table.name.lower()
        if not (not layer and name in ctes):
            found.append((layer, name))
    return list(dict.fromkeys(found))


def _parse(sql: str):  # noqa: ANN202 - a sqlglot expression or None
    from hub.lineage import LineageError, parse

    try:
        return parse(sql)
    except LineageError:
        return None  # the product's own step says what DuckDB makes of it


# --- each section's links ----------------------------------------------------------------


def _references(config: HubConfig, tables: dict[str, Columns]) -> list[Problem]:
    found = []
    for source, table, cfg in config.raw_tables():
        for key, reference in cfg.references.items():
            path = ("sources", source, "tables", table, "references", key)
            target = reference.target_table("raw")
            if target not in tables:
                found.append(
                    Problem(
                        path,
                        f"no table {target}",
                        f"reference {_choices(target, _checkable(config))}.",
                    )
                )
                continue
            found += _missing_columns(path, target, reference.target_columns, tables)
    return found


def _checks(config: HubConfig, tables: dict[str, Columns]) -> list[Problem]:
    found = []
    checkable = _checkable(config)
    for ref, declared in config.checks.items():
        if ref not in checkable:
            found.append(
                Problem(
                    ("checks", ref),
                    f"no table {ref} to check",
                    f"check {_choices(ref, checkable)} "
                    "(`raw.<source>__<table>`, `unified.<entity>`, `serve.<product>`).",
                )
            )
            continue
        for index, check in enumerate(declared):
            for argument in _COLUMN_ARGUMENTS:
                value = check.kwargs.get(argument)
                named = value if isinstance(value, list) else [value] if value else []
                path = ("checks", ref, index, "kwargs", argument)
                found += _missing_columns(path, ref, [str(c) for c in named], tables)
    return found


def _entities(config: HubConfig) -> list[Problem]:
    raw = {f"{s}__{t}" for s, t, _ in config.raw_tables()}
    found = []
    for name, entity in config.entities.items():
        for index, source in enumerate(entity.sources):
            if source.table not in raw:
                found.append(
                    _no_raw_table(config, ("entities", name, "sources", index, "table"), source)
                )
    return found


def _no_raw_table(config: HubConfig, path: Path, source: EntitySource) -> Problem:
    written = source.table
    bare = written.removeprefix("raw.")
    system, _, table = bare.partition("__") if "__" in bare else bare.partition(".")
    tables = sorted(f"{s}__{t}" for s, t, _ in config.raw_tables())
    if system in config.sources:
        own = sorted(config.sources[system].tables)
        what = f"no table {written} (sources.{system} has {', '.join(own)})"
        guess = difflib.get_close_matches(table, own, n=1)
        suggestion = f"{system}__{guess[0] if guess else own[0]}"
    else:
        what = f"no table {written} (no source {system}; sources: {', '.join(config.sources)})"
        suggestion = (difflib.get_close_matches(bare, tables, n=1) or tables or ["x__y"])[0]
    if not tables:
        return Problem(path, what, "declare a source and its tables under `sources` first.")
    return Problem(path, what, f"name a raw table as `<source>__<table>`, e.g. `{suggestion}`.")


def _products(config: HubConfig, tables: dict[str, Columns]) -> list[Problem]:
    found = []
    reads: dict[str, list[str]] = {}
    for name, product in config.serve.items():
        path = ("serve", name, "sql")
        reads[name] = []
        for layer, table in tables_named(product.sql):
            ref = f"{layer}.{table}"
            if not layer:
                same = [t for t in tables if t.partition(".")[2] == table]
                found.append(
                    Problem(
                        path,
                        f"reads {table} without its layer",
                        "name the store table with its layer: `raw.<source>__<table>`, "
                        "`unified.<entity>` or `serve.<product>` ("
                        + (" or ".join(f"`{t}`" for t in same) or _choices(table, list(tables)))
                        + ").",
                        mention=table,
                    )
                )
            elif layer in LAYERS_READ and ref not in tables:
                found.append(
                    Problem(
                        path,
                        f"reads {ref}, a table no section declares",
                        f"read {_choices(ref, list(tables))}, or declare that table.",
                        mention=ref,
                    )
                )
            elif layer == "serve":
                reads[name].append(table)
        own = f"serve.{name}"
        for index, key in enumerate(product.primary_key):
            found += _missing_columns(("serve", name, "primary_key", index), own, [key], tables)
        for column in product.columns:
            found += _missing_columns(("serve", name, "columns", column), own, [column], tables)
    found += _cycles(reads)
    return found


def _cycles(reads: dict[str, list[str]]) -> list[Problem]:
    """Products that read themselves, directly or through others (one loop is enough to
    say; each of its products would repeat it)."""
    try:
        graphlib.TopologicalSorter(reads).prepare()
    except graphlib.CycleError as exc:
        loop = list(reversed(exc.args[1]))  # each product, then the one it reads
        return [
            Problem(
                ("serve", loop[0], "sql"),
                "the products read each other in a loop "
                f"({' → '.join(f'serve.{p}' for p in loop)})",
                "build one product from the other's inputs instead of from it.",
                mention=f"serve.{loop[1]}",
            )
        ]
    return []


def _agents(config: HubConfig, tables: dict[str, Columns]) -> list[Problem]:
    found = []
    for name, agent in config.agents.items():
        at = ("agents", name)
        named = [("subjects", agent.subjects)]
        named += [(("reads", i), p) for i, p in enumerate(agent.reads)]
        if agent.documents:
            named.append(("documents", agent.documents))
        for key, product in named:
            path = (*at, *(key if isinstance(key, tuple) else (key,)))
            if product not in config.serve:
                found.append(
                    Problem(
                        path,
                        f"no serve product {product}",
                        f"name {_choices(product, list(config.serve))}, or declare "
                        f"serve.{product}.",
                    )
                )
            elif config.serve[product].audience != "agent":
                audience = config.serve[product].audience
                found.append(
                    Problem(
                        path,
                        f"serve.{product} is published to the `{audience}` audience, and agents "
                        "read only the products of the `agent` audience",
                        f"set `audience: agent` under serve.{product}, or read another product.",
                    )
                )
        if agent.documents and agent.documents in agent.reads:
            found.append(
                Problem(
                    (*at, "reads"),
                    f"lists its documents `{agent.documents}`, which are searched per subject "
                    "and never given to the SQL tool",
                    f"remove `{agent.documents}` from `reads`.",
                )
            )
        if agent.subjects in config.serve:
            subjects = f"serve.{agent.subjects}"
            for key in ("subject_key", "subject_name"):
                found += _missing_columns((*at, key), subjects, [getattr(agent, key)], tables)
        if agent.documents in config.serve:
            key = "documents_key" if agent.documents_key else "subject_key"
            column = agent.documents_key or agent.subject_key
            note = (
                ""
                if agent.documents_key
                else " as the documents' key (`documents_key` unset, so the subject_key)"
            )
            documents = f"serve.{agent.documents}"
            found += _missing_columns((*at, key), documents, [column], tables, note)
        if agent.signups:
            found += _signups(config, (*at, "signups"), agent.signups, agent.subjects, tables)
    return found


def _signups(config: HubConfig, at: tuple, signups, subjects: str, tables) -> list[Problem]:  # noqa: ANN001
    """The signup table is a raw table with a one-column key; the subjects carry that key."""
    raw = {f"{s}__{t}": spec for s, t, spec in config.raw_tables()}
    if signups.table not in raw:
        fix = f"name {_choices(signups.table, list(raw))}."
        return [Problem((*at, "table"), f"no raw table {signups.table}", fix)]
    if len(raw[signups.table].primary_key) != 1:
        return [
            Problem(
                (*at, "table"),
                f"raw.{signups.table} needs a one-column primary_key: it is each client's key "
                "(and its Dagster partition)",
                f"set `primary_key` on the table {signups.table} in its source.",
            )
        ]
    if subjects not in config.serve:
        return []
    return _missing_columns(
        (*at, "subject_column"), f"serve.{subjects}", [signups.subject_column], tables
    )


def _delivery(config: HubConfig, tables: dict[str, Columns]) -> list[Problem]:
    if not config.agents:
        return []  # nothing is drafted, so nothing is delivered
    delivery = config.delivery
    path = ("delivery", "recipients_from")
    if delivery.recipients_from not in tables:
        return [
            Problem(
                path,
                f"no table {delivery.recipients_from} to take the recipients' addresses from",
                "name the table holding each subject's address, "
                f"{_choices(delivery.recipients_from, list(tables))}.",
            )
        ]
    found = []
    for key in ("recipient_key", "recipient_column"):
        column = getattr(delivery, key)
        found += _missing_columns(("delivery", key), delivery.recipients_from, [column], tables)
    if delivery.tasks:
        sql = [s for s, src in config.sources.items() if src.kind == "sql"]
        if delivery.tasks.source not in sql:
            found.append(
                Problem(
                    ("delivery", "tasks", "source"),
                    f"no sql source {delivery.tasks.source} to write tasks back to",
                    f"name {_choices(delivery.tasks.source, sql)}.",
                )
            )
    return found


def _pii_policies(config: HubConfig) -> list[Problem]:
    """Every PII class declared anywhere has a policy for every audience that reads it."""
    policies = config.governance.policies
    readers = {"analyst", config.access.default_audience} - {"steward"}
    if any(p.audience == "agent" for p in config.serve.values()) or config.agents:
        readers.add("agent")
    declared: list[tuple[Path, str | None]] = [
        (("sources", s, "tables", t, "columns", c, "pii"), spec.pii)
        for s, t, table in config.raw_tables()
        for c, spec in table.columns.items()
    ]
    declared += [
        (("entities", e, "fields", f, "pii"), spec.pii)
        for e, entity in config.entities.items()
        for f, spec in entity.fields.items()
    ]
    declared += [
        (("serve", p, "columns", c, "pii"), spec.pii)
        for p, product in config.serve.items()
        for c, spec in product.columns.items()
    ]
    found = []
    for path, pii in declared:
        for audience in sorted(readers):
            if pii and pii not in policies.get(audience, {}):
                found.append(
                    Problem(
                        path,
                        f"PII class `{pii}` has no policy for the `{audience}` audience",
                        f"add `{pii}: mask` (or clear, hash, redact) under "
                        f"governance.policies.{audience}.",
                    )
                )
    return found


# --- helpers ------------------------------------------------------------------------------


def _checkable(config: HubConfig) -> list[str]:
    """Tables that have checks: raw tables, entities and products (not the crosswalks)."""
    tables = [f"raw.{s}__{t}" for s, t, _ in config.raw_tables()]
    return tables + [f"unified.{e}" for e in config.entities] + [f"serve.{p}" for p in config.serve]


def _missing_columns(
    path: Path, table: str, columns: list[str], tables: dict[str, Columns], note: str = ""
) -> list[Problem]:
    known = tables.get(table)
    if known is None:
        return []
    lowered = {c.lower() for c in known}
    return [
        Problem(
            path,
            f"no column {column} in {table}{note}; it has {', '.join(sorted(known))}",
            f"name one of its columns{_did_you_mean(column, sorted(known))}.",
        )
        for column in columns
        if column.lower() not in lowered
    ]


def _did_you_mean(wrong: str, names: list[str]) -> str:
    close = difflib.get_close_matches(wrong, names, n=1, cutoff=0.6)
    return f" (`{close[0]}`?)" if close else ""


def _choices(wrong: str, names: list[str]) -> str:
    """The names most like `wrong` (`a` or `b`), else all of them (at most 8 shown)."""
    if not names:
        return "a declared one (none is declared yet)"
    close = difflib.get_close_matches(wrong, names, n=2, cutoff=0.75)
    if close:
        return " or ".join(f"`{n}`" for n in close)
    shown = sorted(names)
    more = f", and {len(shown) - 8} more" if len(shown) > 8 else ""
    return "one of " + ", ".join(f"`{n}`" for n in shown[:8]) + more
