"""Secrets never printed: URLs shown from their parsed form, known secrets scrubbed from text.

`hub.config` registers every value it takes from the environment into a secret position (a
URL's user-info, a key named like `password`, `api_key`, `token`, `secret`); `scrub` then
removes those values, in every encoding a URL or driver may show them, from any text that
reaches a message, a log, the audit trail or Dagster. `redact_url` rebuilds a URL from its
parsed parts with the password and secret-looking query values replaced, never by cutting
the string at an `@`.
"""

from __future__ import annotations

import re
import urllib.parse

MASK = "***"
SECRET_KEY = re.compile(r"(?i)(password|passwd|secret|salt|token|api_?key|bearer|credential)")
"Names of config keys whose values are secrets."
_SECRET_PARAM = re.compile(r"(?i)(pass|secret|token|key|auth|sig|credential)")
"Names of URL query parameters whose values are secrets (`api_key`, `sslpassword`, ...)."
_MIN_LENGTH = 3
"Shorter values are not scrubbed from text: they would mangle every message."
_USERINFO = re.compile(r"(?P<scheme>[A-Za-z][A-Za-z0-9+.-]*://)(?P<userinfo>[^\s/?#'\"]*)@")

_registered: set[str] = set()


def register(value: str | None) -> None:
    """Remember a secret so that `scrub` removes it from any text from now on."""
    if value and len(value) >= _MIN_LENGTH:
        _registered.add(value)


def scrub(text: str) -> str:
    """`text` without any registered secret (raw, percent- or plus-encoded) and without the
    user-info of any URL in it (`scheme://user:password@` becomes `scheme://user:***@`)."""
    forms = {
        form
        for secret in _registered
        for form in (secret, urllib.parse.quote(secret, safe=""), urllib.parse.quote_plus(secret))
    }
    for form in sorted(forms, key=len, reverse=True):
        text = text.replace(form, MASK)
    return _USERINFO.sub(_masked_userinfo, text)


def _masked_userinfo(match: re.Match[str]) -> str:
    user, has_password, _ = match.group("userinfo").partition(":")
    return f"{match.group('scheme')}{user}{':' + MASK if has_password else ''}@"


def redact_url(url: str) -> str:
    """The URL as logs, lineage and errors may show it, rebuilt from its parsed parts: the
    password and the values of secret-looking query parameters become `***`."""
    parts = urllib.parse.urlsplit(url)
    pairs = urllib.parse.parse_qsl(parts.query, keep_blank_values=True)
    if parts.password is None and not any(_SECRET_PARAM.search(k) for k, _ in pairs):
        return url
    netloc = parts.netloc
    if parts.password is not None:
        host = parts.hostname or ""
        if ":" in host:
            host = f"[{host}]"
        port = f":{parts.port}" if parts.port is not None else ""
        user = urllib.parse.quote(urllib.parse.unquote(parts.username or ""), safe="")
        netloc = f"{user}:{MASK}@{host}{port}"
    query = urllib.parse.urlencode(
        [(k, MASK if _SECRET_PARAM.search(k) else v) for k, v in pairs], safe="*/"
    )
    return urllib.parse.urlunsplit(parts._replace(netloc=netloc, query=query if pairs else ""))
