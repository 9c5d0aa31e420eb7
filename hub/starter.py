"""`hub init`: the starter hub.yaml, as shipped or with the sources `--from` proposes.

The template (`hub/templates/hub.yaml`) holds one source and its checks; every other section
is there, commented out. With `--from`, its `sources:` and `checks:` are replaced by the
proposed sources (see `hub.propose`) and a commented example check on the first table; the
head (project, store) and the commented sections stay. Either file loads as written.
"""

from __future__ import annotations

import json
import os
import re
import textwrap
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

from hub.config import ConfigError, load_config
from hub.propose import Proposal, propose

TEMPLATE = Path(__file__).with_name("templates") / "hub.yaml"
MORE_SECTIONS = "## ---- More sections"
"The line of the template where the commented-out sections begin."
_PLAIN = re.compile(r"^[A-Za-z_][A-Za-z0-9_]*$")
_YAML_WORDS = {"true", "false", "yes", "no", "on", "off", "null", "y", "n"}


def write_starter(path: Path, *, force: bool, origin: str | None, schema: str | None) -> list[str]:
    """Write the starter hub.yaml at `path`; what to tell the user, line by line."""
    if path.exists() and not force:
        raise ConfigError(f"{path} exists. Fix: pass --force to overwrite it, or another path.")
    template = TEMPLATE.read_text()
    if origin is None:
        path.write_text(template)
        return [
            f"Wrote {path}: one source (`shop`: the files exports/orders*.csv) and its checks; "
            "every other section is there, commented out.",
            "Next: put orders*.csv (with `order_id` and `amount` columns) in exports/, or point "
            "the source at your own files, then run `hub run`. `hub init --from FOLDER_OR_URL "
            "--force` proposes sources and primary keys from your data instead.",
        ]
    if schema and "://" not in origin and not Path(origin).is_file():
        raise ConfigError("--schema goes with a database. Fix: drop --schema, or --from a URL.")
    proposal = propose(origin, path.resolve().parent, schema)
    draft = path.with_name(f".{path.name}.proposed")  # beside it: paths resolve the same
    draft.write_text(render(template, [proposal, *proposal.extra], origin))
    try:
        with _variables(proposal.environment):
            load_config(draft)  # the file must load as written
    except ConfigError as exc:
        draft.unlink()
        raise ConfigError(
            f"the proposed hub.yaml does not load, so {path} was not written: {exc}. Fix: "
            "report this with the --from you used; meanwhile run `hub init` without --from."
        ) from None
    os.replace(draft, path)
    return _summary(path, [proposal, *proposal.extra])


def render(template: str, proposals: list[Proposal], origin: str) -> str:
    """The template with its `sources:` and `checks:` replaced by the proposals."""
    head = template[: template.index("\nsources:") + 1]
    tail = template[template.index(MORE_SECTIONS) :]
    lines = [
        f"## Proposed by `hub init --from {_shown_origin(proposals[0], origin)}`.",
        "## Check each primary key (it is what the data read today shows), then run `hub run`.",
        "sources:                          # each table lands in raw.<source>__<table>",
    ]
    for proposal in proposals:
        lines += _source(proposal)
    lines += ["", *_checks(proposals[0]), ""]
    return head + "\n".join(lines) + "\n" + tail


def _shown_origin(proposal: Proposal, origin: str) -> str:
    return proposal.described if "://" in origin else origin


def _source(proposal: Proposal) -> list[str]:
    lines = [f"  {proposal.source}:", f"    kind: {proposal.kind}"]
    lines += [f"    {key}: {_scalar(value)}" for key, value in proposal.settings.items()]
    lines.append("    tables:")
    for table in proposal.tables:
        lines.append(f"      {table.name}:")
        if table.columns:
            rows = "" if table.rows is None else f"{table.rows:,} rows; "
            listed = ", ".join(f"{name} {kind}" for name, kind in table.columns)
            wrapped = textwrap.wrap(f"{rows}columns: {listed}", width=86)
            lines += [f"        ## {part}" for part in wrapped]
        lines += [f"        {key}: {_scalar(value)}" for key, value in table.settings.items()]
        if table.primary_key:
            key = _key(table.primary_key)
            lines.append(f"        primary_key: {key}".ljust(34) + f"  # {table.why}")
        else:
            why = textwrap.wrap(f"no primary key proposed: {table.why}", width=86)
            lines += [f"        ## {part}" for part in why]
            lines.append("        primary_key: []")
    return lines


def _checks(proposal: Proposal) -> list[str]:
    lines = [
        "checks:                           # Great Expectations expectations per table",
        "  ## Checked already: each primary key (unique, not null), a row count above 0, no "
        "rejected rows.",
    ]
    table = proposal.tables[0] if proposal.tables else None
    if table and table.columns:
        column = next((c for c, _ in table.columns if c not in table.primary_key), None)
        column = column or table.columns[0][0]
        lines += [
            f"  # raw.{proposal.source}__{table.name}:",
            "  #   - expect: expect_column_values_to_not_be_null",
            f"  #     kwargs: {{column: {_scalar(column)}}}",
            "  #     severity: error           # error blocks everything built on the table; "
            "warn only reports",
        ]
    return lines


def _summary(path: Path, proposals: list[Proposal]) -> list[str]:
    lines = []
    for proposal in proposals:
        lines.append(
            f"Wrote {path} with source `{proposal.source}` ({proposal.kind}, {proposal.described}):"
            if proposal is proposals[0]
            else f"and source `{proposal.source}` ({proposal.kind}, {proposal.described}):"
        )
        for table in proposal.tables:
            rows = "" if table.rows is None else f", {table.rows:,} rows"
            if proposal.kind == "documents":
                lines.append(f"  {table.name}: {table.rows} file(s) {table.settings['pattern']}")
                continue
            key = (
                f"primary key {', '.join(table.primary_key)} ({table.why})"
                if table.primary_key
                else f"no primary key: {table.why}"
            )
            lines.append(f"  {table.name} ({len(table.columns)} column(s){rows}): {key}")
        lines += [f"  skipped {why}" for why in proposal.skipped]
        for variable, what in proposal.environment.items():
            lines.append(
                f"Set {variable} to {what} before `hub run` (export {variable}=...): "
                "hub.yaml reads it from the environment and never holds it."
            )
    lines.append("Next: review the proposed primary keys in the file, then run `hub run`.")
    return lines


def _scalar(value: str) -> str:
    """A YAML scalar: plain when it is a plain name, else double-quoted (JSON's quoting)."""
    if _PLAIN.match(value) and value.lower() not in _YAML_WORDS:
        return value
    return json.dumps(value, ensure_ascii=False)


def _key(columns: list[str]) -> str:
    return _scalar(columns[0]) if len(columns) == 1 else f"[{', '.join(map(_scalar, columns))}]"


@contextmanager
def _variables(names: dict[str, str]) -> Iterator[None]:
    """The variables the file names, set to a stand-in where unset, only while it is loaded."""
    unset = [name for name in names if name not in os.environ]
    for name in unset:
        os.environ[name] = "hub-init-stand-in-7c1e"
    try:
        yield
    finally:
        for name in unset:
            os.environ.pop(name, None)
