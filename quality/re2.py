"""Python regexes (what GX on pandas runs) in the words of RE2 (what DuckDB runs), so that
a compiled regex check means the same on any text."""

from __future__ import annotations

import re


class NotSameInRE2(Exception):
    """RE2 cannot say this pattern the way Python means it."""


_UNICODE = {"d": r"\p{Nd}", "w": r"\p{L}\p{N}_", "s": r"\s\x0b\x1c-\x1f\x85\p{Z}"}
"Python's \\d, \\w and \\s (Unicode) as RE2 class contents; RE2's own are ASCII only."


def as_re2(regex: str) -> str:
    """A Python regex in RE2's words, meaning the same on any text: `\\d`, `\\w`, `\\s` and
    their negations as Python's Unicode classes, `$` also before a final newline (Python's
    `$`). What cannot be said the same way (word boundaries, multi-line mode, a class inside
    a class) raises NotSameInRE2: the caller leaves it to GX."""
    if re.search(r"\(\?[a-zA-Z]*m", regex):
        raise NotSameInRE2
    out: list[str] = []
    in_class = False
    i = 0
    while i < len(regex):
        char = regex[i]
        if char == "\\" and i + 1 < len(regex):
            escaped = regex[i + 1]
            i += 2
            if escaped in _UNICODE:
                out.append(_UNICODE[escaped] if in_class else f"[{_UNICODE[escaped]}]")
            elif escaped.lower() in _UNICODE and not in_class:
                out.append(f"[^{_UNICODE[escaped.lower()]}]")
            elif escaped.lower() in _UNICODE or escaped in "bBZ":
                raise NotSameInRE2
            else:
                out.append(char + escaped)
            continue
        if in_class and char == "[":
            raise NotSameInRE2
        if not in_class and char == "[":
            in_class = True
            start = i + 2 if regex[i + 1 : i + 2] == "^" else i + 1
            out.append(regex[i:start])
            if regex[start : start + 1] == "]":  # a `]` first in a class is itself
                out.append("\\]")
                start += 1
            i = start
            continue
        if in_class and char == "]":
            in_class = False
        out.append(r"(?:\n?$)" if char == "$" and not in_class else char)
        i += 1
    return "".join(out)
