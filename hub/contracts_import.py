"""`hub contract import`: a producer's ODCS v3 contract becomes checks in hub.yaml, so its
promise is proven on every load and, broken, blocks what is built on it.

Each schema object of the contract goes to the table its `physicalName` names (or the one
`--table` names), which must exist in the project; its rules become `checks:` entries
(`hub.contract_checks` says which), `severity: error` unless the rule says otherwise. A
check the table already has (declared, or one Groundwork adds itself, such as its primary
key's) is not written again, so importing twice changes nothing; a declared warning the
contract makes an error becomes blocking. A new check whose name is taken is named
`<name>__contract`. hub.yaml is edited in place with ruamel.yaml's round trip (comments,
order and layout kept; each new entry marked `# contract <name> <version>`), written under
another name first, loaded and validated like any hub.yaml, then swapped in: an import
that cannot be applied whole writes nothing.
"""

from __future__ import annotations

import io
import json
import os
import uuid
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from pydantic import ValidationError

from hub.config import CheckConfig, ConfigError, HubConfig, config_path, load_config
from hub.contract_checks import (
    MAX_BYTES,
    checks_of,
    identity,
    is_text,
    load_yaml,
    numeric_range,
    refuse_numeric_range_on_text,
)
from hub.contract_rules import ContractError

_INDENTS = [(2, 4, 2)] + [
    (mapping, sequence, offset)
    for mapping in (2, 4, 3)
    for sequence in (2, 4, 6, 3)
    for offset in (0, 2, 4)
    if offset <= sequence - 2 and (mapping, sequence, offset) != (2, 4, 2)
]
"(mapping, sequence, offset) indentations tried, to write hub.yaml the way it is written; "
"the first is hub.yaml's usual one (`hub init`, the demo)."


@dataclass
class Imported:
    table: str
    added: list[str] = field(default_factory=list)
    "Names of the checks written."
    made_blocking: list[str] = field(default_factory=list)
    "Declared warnings the contract makes errors."
    present: list[str] = field(default_factory=list)
    "Checks the table had already (declared, or Groundwork's own)."
    new: list[CheckConfig] = field(default_factory=list, repr=False)
    raise_at: list[int] = field(default_factory=list, repr=False)
    "Indexes of `checks.<table>` entries whose severity becomes `error`."


def import_contract(
    config_file: str | Path | None, contract_file: str | Path, table: str | None = None
) -> list[Imported]:
    """Add the checks `contract_file` promises to hub.yaml (`config_file`, default as
    `hub` finds it); returns what was done per table. Nothing is written on any error."""
    path = config_path(config_file)
    config = load_config(path)
    contract = Path(contract_file)
    document = read_contract(contract)
    label = f"{document.get('name') or document.get('id')} {document.get('version', '')}"
    label = " ".join(label.replace("${", "$ {").split())  # one line of a comment, never `${`
    results = []
    for ref, schema, where in _targets(config, document, table, contract):
        checks = checks_of(schema, where)
        _require_columns(config, ref, checks, where)
        results.append(_plan(config, ref, checks))
    if any(r.new or r.raise_at for r in results):
        _write(path, results, label)
    return results


def read_contract(file: Path) -> dict[str, Any]:
    """The contract as a plain mapping, once it is known to be an ODCS v3 data contract."""
    from open_data_contract_standard.model import OpenDataContractStandard

    if not file.is_file():
        raise ContractError(f"{file}: no such file. Fix: give the path of an ODCS YAML file.")
    if file.stat().st_size > MAX_BYTES:
        raise ContractError(
            f"{file}: {file.stat().st_size} bytes, more than a contract may be "
            f"({MAX_BYTES // 1_000_000} MB). Fix: give the contract of the tables to import "
            "only. Nothing was written."
        )
    try:
        text = file.read_text()
    except UnicodeDecodeError:
        raise ContractError(f"{file}: not UTF-8 text. Fix: give an ODCS YAML file.") from None
    data = load_yaml(text, str(file))
    version = str(data.get("apiVersion", "")) if isinstance(data, dict) else ""
    if not version.startswith("v3") or data.get("kind", "DataContract") != "DataContract":
        raise ContractError(
            f"{file}: not an ODCS v3 data contract (`kind: DataContract`, `apiVersion: v3.x`). "
            "Fix: give an Open Data Contract Standard v3 file."
        )
    try:
        OpenDataContractStandard.model_validate(data)
    except ValidationError as exc:
        error = exc.errors()[0]
        at = ".".join(str(p) for p in error["loc"])
        raise ContractError(f"{file}: {at}: {error['msg']}. Fix: correct the contract.") from None
    return data


def _targets(
    config: HubConfig, document: dict, table: str | None, file: Path
) -> list[tuple[str, dict, str]]:
    """(table, schema object, where in the file) for each object to import."""
    from quality.specs import primary_keys

    objects = [o for o in document.get("schema") or [] if isinstance(o, dict)]
    if not objects:
        raise ContractError(f"{file}: the contract has no `schema` objects, so no rules.")
    known = primary_keys(config)

    def where(obj: dict) -> str:
        return f"{file}: schema[{objects.index(obj)}] ({obj.get('name')})"

    def missing(ref: str, said: str) -> ContractError:
        return ContractError(
            f"{said} table {ref!r}, which this project does not have (its tables: "
            f"{', '.join(sorted(known))}). Fix: pass --table <layer>.<table> naming one of "
            "them, or declare the table in hub.yaml first. Nothing was written."
        )

    if table:
        ref = table if "." in table else f"serve.{table}"
        if ref not in known:
            raise missing(ref, "--table names the")
        chosen = [o for o in objects if ref in (o.get("physicalName"), o.get("name"))]
        chosen = objects if len(objects) == 1 else chosen
        if len(chosen) != 1:
            names = ", ".join(str(o.get("physicalName") or o.get("name")) for o in objects)
            raise ContractError(
                f"{file}: the contract has several schema objects ({names}) and none is "
                f"{ref}. Fix: leave out --table to import each into its physicalName."
            )
        return [(ref, chosen[0], where(chosen[0]))]
    found = []
    for obj in objects:
        ref = obj.get("physicalName") or ""
        if ref not in known:
            raise missing(ref, f"{where(obj)}: its physicalName names the")
        found.append((ref, obj, where(obj)))
    return found


def _require_columns(config: HubConfig, ref: str, checks: list[CheckConfig], where: str) -> None:
    """Every column the checks name is a column of the table, when the store has it (a raw
    table's columns are only known from its data; hub.yaml fixes a product's)."""
    from hub.schema import columns_of
    from hub.store import Store, split_ref, table_exists, table_ref

    store = Store.of(config)
    if not store.path.exists():
        return
    with store.reader() as con:
        if not table_exists(con, *split_ref(ref)):
            return
        columns = columns_of(con, table_ref(*split_ref(ref)))
    for check in checks:
        column = check.kwargs.get("column")
        if isinstance(column, str) and is_text(columns.get(column)) and numeric_range(check):
            said = f"a {columns[column]} column of {ref} in the store"
            refuse_numeric_range_on_text(check, column, said, where)
        named = [check.kwargs.get(k) for k in ("column", "column_A", "column_B")]
        named += list(check.kwargs.get("column_list") or [])
        unknown = [c for c in named if c is not None and c not in columns]
        if unknown:
            raise ContractError(
                f"{where}: column(s) {', '.join(map(str, unknown))} are not in {ref} (it has "
                f"{', '.join(columns)}). Fix: import into the table that has them (--table), "
                "or correct the contract's property names. Nothing was written."
            )


def _plan(config: HubConfig, ref: str, checks: list[CheckConfig]) -> Imported:
    """What importing `checks` into `ref` changes: new checks, warnings made blocking."""
    from quality.arguments import ARGUMENTS, arguments_problem
    from quality.specs import CheckSpec, table_checks

    declared = {identity(c): i for i, c in enumerate(config.checks.get(ref, []))}
    specs = table_checks(config)[ref]
    own = {
        (s.expectation, json.dumps(s.kwargs, sort_keys=True, default=str))
        for s in specs
        if s.blocking
    }
    taken = {s.name for s in specs}
    done = Imported(ref)
    for check in checks:
        if check.expect in ARGUMENTS:
            spec = CheckSpec(ref, check.check_name, True, check.expect, check.kwargs)
            problem = arguments_problem(spec)
            if problem:
                raise ContractError(
                    f"the contract's rule {check.check_name} on {ref} ({check.expect}): "
                    f"{problem}. Fix: correct the rule in the contract. Nothing was written."
                )
        index = declared.get(identity(check))
        if index is not None:
            existing = config.checks[ref][index]
            if check.severity == "error" and existing.severity == "warn":
                done.raise_at.append(index)
                done.made_blocking.append(existing.check_name)
            else:
                done.present.append(existing.check_name)
            continue
        if identity(check) in own:
            done.present.append(check.check_name)
            continue
        default = check.model_copy(update={"name": None}).check_name
        name = check.check_name
        for suffix in ["", "__contract", *(f"__contract_{n}" for n in range(2, 100))]:
            if name + suffix not in taken:
                name += suffix
                break
        taken.add(name)
        done.new.append(check.model_copy(update={"name": None if name == default else name}))
        done.added.append(name)
    return done


def _write(path: Path, results: list[Imported], label: str) -> None:
    """Apply the plans to hub.yaml, keeping its comments and layout; all or nothing."""
    from ruamel.yaml.comments import CommentedMap, CommentedSeq

    text = path.read_text()
    round_trip = _round_trip(text)
    document = round_trip.load(text) or CommentedMap()
    if not document.get("checks"):  # unset, commented out, or `{}`
        document["checks"] = CommentedMap()
    for result in results:
        entries = document["checks"].get(result.table)
        if entries is None:
            entries = document["checks"][result.table] = CommentedSeq()
        for index in result.raise_at:
            entries[index]["severity"] = "error"
        for check in result.new:
            entry = CommentedMap(expect=check.expect)
            kwargs = CommentedMap(check.kwargs)
            kwargs.fa.set_flow_style()
            entry["kwargs"] = kwargs
            entry["severity"] = check.severity
            if check.name:
                entry["name"] = check.name
            entry.yaml_add_eol_comment(f"contract {label}", "expect")
            entries.append(entry)
    staged = path.with_name(f".{path.name}.{uuid.uuid4().hex[:8]}.contract")
    staged.write_text(_dumped(round_trip, document, text))
    try:
        load_config(staged)
    except ConfigError as exc:
        staged.unlink()
        said = str(exc).replace(str(staged), str(path))
        raise ContractError(
            f"{said}\nThe contract's checks do not fit; nothing was written."
        ) from None
    os.replace(staged, path)


def _round_trip(text: str):  # noqa: ANN202 - ruamel.yaml.YAML
    """A ruamel round-tripper that reads and writes YAML 1.1, as PyYAML (which loads hub.yaml)
    does, so `no` or `on` in a value set stays text; set to the file's own indentation (the
    first that reproduces it exactly; else hub.yaml's usual one)."""
    from ruamel.yaml import YAML

    def make(indent: tuple[int, int, int]) -> YAML:
        parser = YAML()
        parser.version = (1, 1)
        parser.preserve_quotes = True
        parser.width = 4096
        parser.indent(mapping=indent[0], sequence=indent[1], offset=indent[2])
        return parser

    for indent in _INDENTS:
        parser = make(indent)
        if _dumped(parser, parser.load(text), text) == text:
            return parser
    return make(_INDENTS[0])


def _dumped(parser, document: Any, text: str) -> str:  # noqa: ANN001 - ruamel.yaml.YAML
    """The document as YAML, without the `%YAML 1.1` directive the file did not have."""
    written = io.StringIO()
    parser.dump(document, written)
    found = written.getvalue()
    return found if text.startswith("%YAML") else found.removeprefix("%YAML 1.1\n---\n")
