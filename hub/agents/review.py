"""What a human must look at before approving: payment details, links and addresses in a
draft that the subject's governed data does not hold.

Documents are written by third parties, and a model may copy what they say. A draft that
mentions an IBAN, a card number, an account or routing number, a URL, an e-mail address or
a phone number that is not among the subject's own values is flagged `needs_review`, one
reason per line found (heuristics: they catch what is written plainly or lightly disguised,
and a human still reads every draft), so `hub draft` and the approval prompt show exactly
what to check. The reasons never repeat an address in clear (it may be a client's): it is
masked (`a***@example.com`).
"""

from __future__ import annotations

import re
import unicodedata
from collections.abc import Iterable

from hub.masking import mask_text

_IBAN = re.compile(r"\b[A-Z]{2}\d{2}(?:[ -]?[A-Z0-9]{4}){2,7}(?:[ -]?[A-Z0-9]{1,4})?\b")
_IBAN_ANY_CASE = re.compile(r"(?i)\b[a-z]{2}\d{2}(?:[ -]?[a-z0-9]){11,30}\b")
"Checked by its mod-97 digits: a lower-case IBAN is still an IBAN."
_PHONE = re.compile(r"(?<![\w+])\+?\d[\d ().-]{7,}\d\b")
_DATE = re.compile(r"\d{4}-\d{2}-\d{2}")
_CARD = re.compile(r"\b\d(?:[ -]?\d){12,18}\b")
_LONG_NUMBER = re.compile(r"\b\d{8,}\b")
_PAYMENT_WORDS = re.compile(
    r"(?i)\b(iban|swift|bic|routing (?:number|no)|account (?:number|no)|sort code|"
    r"wire (?:transfer|the)|bank (?:details|transfer|account)|remit(?:tance)?|pay(?:ment)?s? to)\b"
)
_URL = re.compile(
    r"(?i)\b(?:https?://|www\.)[^\s<>\"')\]]+"
    r"|(?<![@\w.-])(?:[a-z0-9](?:[a-z0-9-]*[a-z0-9])?\.)+(?:[a-z]{2,}(?::\d+)?/[^\s<>\"')\]]*"
    r"|(?:com|net|org|io|co|biz|info|app|dev|xyz|online|site|example|ru|cn)\b)"
)
"Links: with a scheme or `www.`, or a bare host name followed by a path or a common TLD."
_INVISIBLE = re.compile("[\u00ad\u180e\u200b-\u200f\u202a-\u202e\u2060-\u2064\ufeff]")
_SPELLED_AT = re.compile(r"(?i)\s*[\[(]\s*at\s*[\])]\s*")
_SPELLED_DOT = re.compile(r"(?i)\s*[\[(]\s*dot\s*[\])]\s*")
_EMAIL = re.compile(r"[A-Za-z0-9._%+-]+@[A-Za-z0-9.-]+\.[A-Za-z]{2,}")


def review_reasons(title: str, body: str, known: Iterable[object]) -> list[str]:
    """One reason per line (of the subject line, then of the body) that a human must check;
    `known` are the subject's own governed values (what it is fine to mention)."""
    allowed = {
        token.lower().rstrip(".:")
        for value in known
        if value is not None
        for token in re.split(r"[\s,;<>()\"']+", str(value))
        if token
    }
    lines = [("subject line", title)]
    lines += [(f"line {n}", line) for n, line in enumerate(body.splitlines(), start=1)]
    reasons = []
    for where, line in lines:
        visible = _visible(line)
        found = _findings(visible, allowed)
        if found:
            reasons.append(f"{where}: {', '.join(found)}: {_shown(visible)}")
    return reasons


def _findings(line: str, allowed: set[str]) -> list[str]:
    def foreign(matches: Iterable[re.Match[str]]) -> bool:
        return any(m.group(0).lower().rstrip(".,:;") not in allowed for m in matches)

    found = []
    if _IBAN.search(line) or any(_iban_checksum(m.group(0)) for m in _IBAN_ANY_CASE.finditer(line)):
        found.append("an IBAN")
    if any(_luhn(m.group(0)) for m in _CARD.finditer(line)):
        found.append("a card number")
    elif foreign(_LONG_NUMBER.finditer(line)):
        found.append("an account or reference number")
    if _PAYMENT_WORDS.search(line):
        found.append("payment instructions")
    if foreign(_URL.finditer(line)):
        found.append("a link not in the client's data")
    if foreign(_EMAIL.finditer(line)):
        found.append("an e-mail address not in the client's data")
    phones = [
        m
        for m in _PHONE.finditer(line)
        if sum(c.isdigit() for c in m.group(0)) >= 8 and not _DATE.search(m.group(0))
    ]
    if "a card number" not in found and foreign(phones):
        found.append("a phone number not in the client's data")
    return found


def _iban_checksum(candidate: str) -> bool:
    compact = re.sub(r"[ -]", "", candidate).upper()
    digits = "".join(str(int(c, 36)) for c in compact[4:] + compact[:4])
    return 15 <= len(compact) <= 34 and int(digits) % 97 == 1


def _visible(line: str) -> str:
    """The line as a reader sees it: compatibility forms folded, invisible characters gone,
    spelled-out `[at]` and `[dot]` and wide full stops read as `@` and `.`
    (`billing\u200b@evil.example` is an address to a human, so it is one here too)."""
    line = _INVISIBLE.sub("", unicodedata.normalize("NFKC", line))
    line = _SPELLED_AT.sub("@", line)
    return _SPELLED_DOT.sub(".", line.replace("\u3002", ".").replace("\uff61", "."))


def _luhn(candidate: str) -> bool:
    digits = [int(d) for d in re.sub(r"\D", "", candidate)]
    if not 13 <= len(digits) <= 19:
        return False
    total = 0
    for index, digit in enumerate(reversed(digits)):
        if index % 2:
            digit = digit * 2 - 9 if digit > 4 else digit * 2
        total += digit
    return total % 10 == 0


def _shown(line: str) -> str:
    """The line, shortened, with e-mail addresses masked (`a***@example.com`: the `mask`
    policy of `hub.masking`, so the reason never holds an address in clear)."""
    masked = _EMAIL.sub(lambda m: mask_text(m.group(0), "email"), line).strip()
    return masked if len(masked) <= 160 else masked[:157] + "…"
