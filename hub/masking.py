"""PII policies as SQL: what each audience sees of a column of a given PII class.

`clear` shows the value; `mask` keeps a recognisable shape (`j***@example.com`, `***4567`,
`A***`); `hash` is a salted SHA-256 prefix, so the same value hashes the same everywhere and
joins still work; `redact` is NULL. Every copy, preview and sample is masked by these same
expressions, run by DuckDB.
"""

from __future__ import annotations

import secrets as random_secrets
from collections.abc import Iterable
from pathlib import Path

import duckdb

from hub import secrets
from hub.store import quote_column, quote_literal, write_new_file

SALT_FILE = "hash-salt"
"Beside the store when `governance.hash_salt` is not set: one random salt per project."

_TEXT = "trim(CAST({c} AS VARCHAR))"
_MASKS = {
    "email": "CASE WHEN contains({v}, '@') THEN left({v}, 1) || '***@' || "
    "regexp_extract({v}, '@([^@]*)$', 1) ELSE left({v}, 1) || '***' END",
    "phone": "'***' || right(regexp_replace({v}, '[^0-9]', '', 'g'), 4)",
}
_DEFAULT_MASK = "left({v}, 1) || '***'"


STRICTNESS = ("clear", "mask", "hash", "redact")


def policy_for(pii: str, policies: dict[str, str]) -> str:
    """The policy of a class, or of the strictest of several (`name+email`: a column made of
    both is shown as strictly as the stricter of the two); a class without one: `redact`."""
    return max((policies.get(c, "redact") for c in pii.split("+")), key=STRICTNESS.index)


def masked(column: str, pii: str | None, policy: str) -> str:
    """The SELECT item for one column as an audience with `policy` for its class sees it.
    `hash` needs `define_hash` on the connection first."""
    c = quote_column(column)
    if pii is None or policy == "clear":
        return c
    if policy == "redact":
        return f"CAST(NULL AS VARCHAR) AS {c}"
    v = _TEXT.format(c=c)
    if policy == "hash":
        return f"hub_hash({v}) AS {c}"
    return f"({_MASKS.get(pii, _DEFAULT_MASK).format(v=v)}) AS {c}"


def masked_select(columns: Iterable[str], pii: dict[str, str], policies: dict[str, str]) -> str:
    """A SELECT list of `columns` with each PII column transformed by its class's policy."""
    return ", ".join(
        masked(c, pii.get(c), policy_for(pii[c], policies) if c in pii else "clear")
        for c in columns
    )


def define_hash(con: duckdb.DuckDBPyConnection, salt: str) -> None:
    """Make `hub_hash(text)` available on this connection (a temporary macro: the salt is
    never stored in a database file nor shown in an error, which quotes only the call)."""
    con.execute(
        f"CREATE OR REPLACE TEMP MACRO hub_hash(v) AS left(sha256({quote_literal(salt)} || v), 16)"
    )


def mask_text(value: str, pii: str) -> str:
    """One value under the `mask` policy (no salt needed), as the SQL masks it."""
    return str(mask_values([value], pii, "mask", salt="")[0])


def mask_values(values: list[object], pii: str, policy: str, salt: str) -> list[str | None]:
    """Python values masked exactly as the SQL masks them (for check samples)."""
    con = duckdb.connect(":memory:")
    try:
        define_hash(con, salt)
        expression = masked("v", pii, policy)
        return [
            row[0]
            for row in con.execute(
                f"SELECT {expression} FROM (SELECT unnest(?::VARCHAR[]) AS v)",
                [[None if v is None else str(v) for v in values]],
            ).fetchall()
        ]
    finally:
        con.close()


def hash_salt(configured: str | None, store_path: Path) -> str:
    """The salt of `hash`: `governance.hash_salt` (use `${ENV}`), else a random one kept in
    `hash-salt` beside the store (created on first use, readable by its owner only)."""
    if configured:
        secrets.register(configured)
        return configured
    path = store_path.parent / SALT_FILE
    if not path.exists():
        path.parent.mkdir(parents=True, exist_ok=True)
        write_new_file(path, random_secrets.token_hex(16).encode(), mode=0o600)
    salt = path.read_text().strip()
    secrets.register(salt)
    return salt


_ABOUT_THE_SCHEMA = ("Binder Error", "Catalog Error", "Parser Error")
"DuckDB errors about names, not values: they are kept whole."


def without_values(message: str) -> str:
    """An error message fit for a lower audience: its first line, with every quoted part
    (from a quote to the last quote of the same kind, so `'O'Brien'` goes whole) replaced by
    `…`. Database and parser errors quote the value they choked on (`Could not convert
    string 'ada@x.com' to INT32`) and echo it on the lines below; both go. Best effort: a
    value an error prints without quotes on its first line stays. DuckDB's binder, catalog
    and parser errors are about names and are kept whole."""
    if any(kind in message for kind in _ABOUT_THE_SCHEMA):
        return message  # names tables and columns (and SQL the project wrote), no data
    line = message.strip().splitlines()[0] if message.strip() else ""
    while True:
        quotes = [(line.find(q), q) for q in "'\"" if line.count(q) >= 2]
        if not quotes:
            return line
        start, quote = min(quotes)
        line = f"{line[:start]}…{line[line.rindex(quote) + 1 :]}"
