"""hub.yaml read as YAML, with the line of every key and no key written twice.

`read(text)` returns the data as YAML's safe loader builds it, the line of every key path
(`("sources", "crm", "tables", "clients")`, `("entities", "customer", "sources", 1)`), so an
error about any value can say where it is written, and every key written twice in one
mapping, at any depth (YAML itself would keep the last one silently).
"""

from __future__ import annotations

import copy
import re
from dataclasses import dataclass, field
from functools import lru_cache
from typing import Any

import yaml

Path = tuple[str | int, ...]
_MERGE = "tag:yaml.org,2002:merge"


@dataclass(frozen=True)
class Duplicate:
    path: Path
    first_line: int
    second_line: int


@dataclass(frozen=True)
class Lines:
    """The line (1-based) where each key path is written."""

    by_path: dict[Path, int]
    blocks: dict[Path, tuple[int, str]] = field(default_factory=dict)
    "Values written as a literal block (`sql: |`): the line of their first line, their text."

    def of(self, path: Path, mention: str | None = None) -> int | None:
        """The line of `path`, else of its nearest written parent (a default has none);
        with `mention`, the line of a literal block where that text first appears."""
        if mention and path in self.blocks:
            first, text = self.blocks[path]
            word = re.compile(rf"(?<![\w.]){re.escape(mention)}(?!\w)", re.IGNORECASE)
            for offset, line in enumerate(text.splitlines()):
                if word.search(line):
                    return first + offset
        for end in range(len(path), 0, -1):
            if path[:end] in self.by_path:
                return self.by_path[path[:end]]
        return None

    def path_named(self, text: str) -> Path | None:
        """The key path that `display` shows as `text`."""
        for path in self.by_path:
            if display(path) == text:
                return path
        return None


def display(path: Path) -> str:
    """`sources.crm.tables[0]`: how messages name a key path."""
    shown = ""
    for part in path:
        shown = (
            f"{shown}[{part}]" if isinstance(part, int) else f"{shown}.{part}" if shown else part
        )
    return shown


class _Loader(getattr(yaml, "CSafeLoader", yaml.SafeLoader)):  # libyaml when built with it
    """YAML's safe loader; a composite key `[a, b]: ...` becomes the text `[a, b]`."""

    def construct_mapping(self, node: yaml.MappingNode, deep: bool = False) -> dict:
        for index, (key_node, value_node) in enumerate(node.value):
            if isinstance(key_node, yaml.SequenceNode):
                key_node = yaml.ScalarNode(
                    "tag:yaml.org,2002:str", _key(key_node), key_node.start_mark, key_node.end_mark
                )
                node.value[index] = (key_node, value_node)
        return super().construct_mapping(node, deep=deep)


def read(text: str) -> tuple[Any, Lines, list[Duplicate]]:
    """The data, the line of every key path, and the keys written twice. Raises
    `yaml.YAMLError` on a syntax error (its message carries the line).

    A run reads hub.yaml once per step, so the last texts' readings are kept; each caller
    gets its own copy of the data."""
    data, lines, duplicates = _read(text)
    return copy.deepcopy(data), lines, list(duplicates)


@lru_cache(maxsize=8)
def _read(text: str) -> tuple[Any, Lines, tuple[Duplicate, ...]]:
    loader = _Loader(text)
    try:
        node = loader.get_single_node()
        if node is None:
            return None, Lines({(): 1}), ()
        lines: dict[Path, int] = {(): node.start_mark.line + 1}
        blocks: dict[Path, tuple[int, str]] = {}
        duplicates: list[Duplicate] = []
        _walk(node, (), lines, blocks, duplicates, set())
        return loader.construct_document(node), Lines(lines, blocks), tuple(duplicates)
    finally:
        loader.dispose()


def _key(node: yaml.Node) -> str:
    if isinstance(node, yaml.SequenceNode):
        return "[" + ", ".join(_key(item) for item in node.value) + "]"
    return str(node.value)


def _walk(
    node: yaml.Node,
    path: Path,
    lines: dict[Path, int],
    blocks: dict[Path, tuple[int, str]],
    duplicates: list[Duplicate],
    open_nodes: set[int],
) -> None:
    if id(node) in open_nodes:  # an alias inside itself
        return
    open_nodes = open_nodes | {id(node)}
    if isinstance(node, yaml.MappingNode):
        seen: dict[tuple[str, str], int] = {}
        for key_node, value_node in node.value:
            if key_node.tag == _MERGE:  # `<<: *defaults`: its keys count as this mapping's
                found: dict[Path, int] = {}
                merged = value_node.value if isinstance(value_node, yaml.SequenceNode) else []
                for source in merged or [value_node]:
                    _walk(source, path, found, {}, [], open_nodes)
                for merged_path, line in found.items():
                    lines.setdefault(merged_path, line)
                continue
            key = _key(key_node)
            line = key_node.start_mark.line + 1
            identity = (key_node.tag, key)
            if identity in seen:
                duplicates.append(Duplicate((*path, key), seen[identity], line))
            else:
                seen[identity] = line
                lines[(*path, key)] = line
            _walk(value_node, (*path, key), lines, blocks, duplicates, open_nodes)
    elif isinstance(node, yaml.ScalarNode) and node.style == "|":
        blocks[path] = (node.start_mark.line + 2, node.value)  # its text starts below the `|`
    elif isinstance(node, yaml.SequenceNode):
        for index, item in enumerate(node.value):
            lines[(*path, index)] = item.start_mark.line + 1
            _walk(item, (*path, index), lines, blocks, duplicates, open_nodes)
