"""Who a draft goes to: the subject's real address, from the governed store, and whether it
is exactly one address a message can be sent to.

Agents only ever see addresses masked; the address comes from `delivery.recipients_from`
when a human approves and again when delivery sends. Usable means one plain ASCII address
(dot-atom local part, a host of letter-digit-hyphen labels): a list, a line break, any
control, space or invisible character, a display name, or an international address is
refused with a reason that never repeats the value.
"""

from __future__ import annotations

import re
import unicodedata
from email.utils import getaddresses
from typing import TYPE_CHECKING

import duckdb

from hub.store import quote_ident, split_ref, table_ref

if TYPE_CHECKING:
    from hub.config import HubConfig

_ATOM = r"[A-Za-z0-9!#$%&'*+/=?^_`{|}~-]+"
_ADDRESS = re.compile(
    rf"{_ATOM}(?:\.{_ATOM})*@(?:[A-Za-z0-9](?:[A-Za-z0-9-]{{0,61}}[A-Za-z0-9])?\.)+[A-Za-z]{{2,63}}"
)
"A plain ASCII address: dot-atom local part, a host name of letter-digit-hyphen labels."


def usable_address(value: object) -> tuple[str | None, str]:
    """(the one address, "") if `value` is exactly one valid e-mail address, else (None, why).
    The reason never repeats the value (it may be a client's address)."""
    if not isinstance(value, str) or not value.strip(" "):
        return None, "the subject has no e-mail address"
    text = value.strip(" ")  # plain spaces only: any other character around it is refused
    categories = {unicodedata.category(ch) for ch in text}
    if categories & {"Cc", "Zl", "Zp"}:
        return None, "the address contains a line break or a control character"
    addresses = [address for _, address in getaddresses([text]) if address]
    if len(addresses) != 1 or "," in text or ";" in text:
        return None, f"the address field holds {max(len(addresses), 2)} addresses, not one"
    if any(c[0] in "CZ" for c in categories):
        return None, "the address contains a space or an invisible character"
    if not text.isascii():
        return None, "the address is not ASCII (international addresses are not supported)"
    if not _ADDRESS.fullmatch(text) or len(text) > 254 or len(text.rpartition("@")[0]) > 64:
        return None, "the address is not a valid e-mail address"
    return text, ""


def recipient_of(con: duckdb.DuckDBPyConnection, config: HubConfig, subject_id: str) -> object:
    """The real (unmasked) address of a subject, from `delivery.recipients_from`."""
    schema, table = split_ref(config.delivery.recipients_from)
    address = quote_ident(config.delivery.recipient_column)
    key = quote_ident(config.delivery.recipient_key)
    row = con.execute(
        f"SELECT {address} FROM {table_ref(schema, table)} WHERE CAST({key} AS VARCHAR) = ?",
        [subject_id],
    ).fetchone()
    return row[0] if row else None
