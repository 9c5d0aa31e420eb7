"""`hub.yaml`: the project's one configuration file, validated by pydantic.

Every error names the file, the path inside it (`sources.crm.tables.clients.primary_key`)
and the fix. `${NAME}` (or `${NAME:-default}`) takes a value from the environment, so
secrets never live in the file; values that came from the environment are never printed.
Relative paths are resolved against the folder holding `hub.yaml`.
"""

from __future__ import annotations

import os
import re
import urllib.parse
from pathlib import Path
from typing import Annotated, Any, Literal, Union

import yaml
from pydantic import BaseModel, ConfigDict, Field, ValidationError, model_validator

from connectors import source_models
from connectors.base import CHECK_NAME, Owner, Table
from hub import config_links, secrets, yaml_lines

CONFIG_ENV = "HUB_CONFIG"
DEFAULT_FILE = "hub.yaml"
_ENV_REF = re.compile(r"\$\{([A-Za-z_][A-Za-z0-9_]*)(?::-([^}]*))?\}")
_NAME = r"^[a-z][a-z0-9_]*$"


class ConfigError(Exception):
    """`hub.yaml` is missing or invalid; the message says where and how to fix it."""


class Model(BaseModel):
    model_config = ConfigDict(extra="forbid", populate_by_name=True)


class ColumnConfig(Model):
    description: str = ""
    "What the column means, shown in the catalog and the Dagster UI."
    pii: str | None = None
    "PII class (`email`, `phone`, `name`, ..., or `none`); governance policies mask by class."


SourceConfig = Annotated[Union[source_models()], Field(discriminator="kind")]  # noqa: UP007
"One of the connector modules' `Source` models, chosen by `kind`."


class EntitySource(Model):
    table: str
    "The raw table, as `<source>__<table>`."
    id: str
    "Its id column, kept in the crosswalk."
    fields: dict[str, str]
    "Entity field -> column of this table."


class EntityField(Model):
    standardise: list[str] = Field(default_factory=list)
    "Standardisers applied in order: trim, lower, upper, email, e164_phone, company_name."
    pii: str | None = None
    "PII class of the field."
    description: str = ""


class EntityConfig(Model):
    description: str = ""
    owners: list[Owner] = Field(default_factory=list)
    "Who answers for the entity and its crosswalk (Dagster asset owners)."
    fields: dict[str, EntityField]
    "The canonical fields of the entity."
    match_on: list[str]
    "Fields that link records of different sources, strongest first."
    sources: list[EntitySource]
    "Where records come from, in survivorship priority order (first wins)."
    gated: bool = False
    "Declarative automation rebuilds it when its inputs change, only once their blocking "
    "checks passed."

    @model_validator(mode="after")
    def _fields_known(self) -> EntityConfig:
        unknown = [f for f in self.match_on if f not in self.fields]
        for source in self.sources:
            unknown += [f for f in source.fields if f not in self.fields]
        if unknown:
            raise ValueError(f"unknown entity field(s) {sorted(set(unknown))}")
        return self


class CheckConfig(Model):
    expect: str = Field(pattern=r"^expect_[a-z0-9_]+$")
    "A Great Expectations expectation type, e.g. `expect_column_values_to_match_regex`."
    kwargs: dict[str, Any] = Field(default_factory=dict)
    "Its arguments (`column`, `regex`, `value_set`, `mostly`, ...)."
    severity: Literal["error", "warn"] = "error"
    "`error` is blocking: it stops everything downstream, agents included."
    name: str | None = Field(default=None, pattern=CHECK_NAME)
    "Check name in Dagster (default: expectation type and column)."

    @property
    def check_name(self) -> str:
        if self.name:
            return self.name
        column = self.kwargs.get("column")
        short = self.expect.removeprefix("expect_column_values_to_").removeprefix("expect_")
        short = short.replace("not_be_", "not_").removeprefix("be_")
        return f"{short}__{as_check_name(str(column))}" if column else short


def as_check_name(text: str) -> str:
    """`text` as part of a check name, which Dagster allows only letters, digits and `_`."""
    return re.sub(r"[^A-Za-z0-9_]", "_", text)


class ProductConfig(Model):
    description: str = ""
    owners: list[Owner] = Field(default_factory=list)
    "Who answers for the product (Dagster asset owners)."
    sql: str
    "A SELECT over `unified.*` / `raw.*` tables; PII columns are masked per audience."
    primary_key: list[str] = Field(default_factory=list)
    columns: dict[str, ColumnConfig] = Field(default_factory=dict)
    audience: Audience = "agent"
    "Who may read it: this audience and the more privileged ones, each masked its own way."
    gated: bool = False
    "Declarative automation rebuilds it when its inputs change, only once their blocking "
    "checks passed."

    @property
    def inputs(self) -> list[str]:
        """The `raw.*`, `unified.*` and `serve.*` tables its SQL reads (parsed, in order)."""
        from hub.lineage import tables_read

        return tables_read(self.sql)


Audience = Literal["agent", "analyst", "steward"]
AUDIENCES: tuple[str, ...] = ("agent", "analyst", "steward")
"From least to most privileged: each reads the products of its level and below."
Policy = Literal["clear", "mask", "hash", "redact"]


class GovernanceConfig(Model):
    policies: dict[Audience, dict[str, Policy]] = Field(
        default_factory=lambda: {
            "agent": {"email": "mask", "phone": "mask", "name": "redact"},
            "analyst": {"email": "hash", "phone": "mask", "name": "mask"},
        }
    )
    "Per audience, per PII class: how the value is shown. `steward` always reads clear."
    hash_salt: str | None = Field(default=None, repr=False)
    "Salt of the `hash` policy; use `${HUB_HASH_SALT}`. Unset: a random salt beside the store."


class AccessConfig(Model):
    default_audience: Audience = "analyst"
    "Who `hub sql`, `hub.sql()` and `hub.connect()` read as, unless `--as` / `audience=` says."
    memory_limit: str = "2GB"
    "DuckDB memory limit of a human reader's sandbox."
    threads: int = 2
    "DuckDB threads of a human reader's sandbox."


class McpConfig(Model):
    """What `hub mcp` serves to outside agents over the Model Context Protocol."""

    audience: Literal["agent", "analyst"] = "agent"
    "Who outside agents read as (`hub mcp --as` says otherwise): `agent`, the least privileged, "
    "reads what Groundwork's own agents read. Never the steward, who reads the store in clear."
    max_rows: int = Field(default=200, ge=1)
    "Rows one `query` call may return; the answer says when more were cut."
    max_result_bytes: int = Field(default=65_536, ge=1)
    "Bytes (as JSON) one `query` call may return; the rest is cut and the answer says so."
    max_query_seconds: float = Field(default=5.0, gt=0)
    "Wall-clock limit of one `query` call; the query's process is killed when it is reached."
    memory_limit: str = "512MB"
    "DuckDB memory limit of the server's sandbox."


class EmptyIsUnset(Model):
    """A block whose empty values are unset: `${NAME:-}` with NAME unset in the environment
    (`model: ${HUB_LLM_MODEL:-}`, `user: ${SMTP_USER:-}`) means the key was not given."""

    @model_validator(mode="before")
    @classmethod
    def _empty_is_unset(cls, data: Any) -> Any:
        if isinstance(data, dict):
            data = {k: (None if v == "" else v) for k, v in data.items()}
        return data


def _from_the_environment(key: str, value: str | None, example: str) -> None:
    """Refuse a secret written in hub.yaml: the loader registers what `${NAME}` brings under
    a secret-looking key (`password`, `api_key`) with `hub.secrets`, a literal it does not."""
    if value is not None and secrets.scrub(value) == value:
        raise ValueError(
            f"`{key}`: write it as `${{{example}}}`, taken from the environment; "
            "a secret written in hub.yaml itself is refused"
        )


class LLMConfig(EmptyIsUnset):
    provider: Literal["offline", "ollama", "openai", "openai_like"] = "offline"
    "`offline` runs a fixed plan over the tools with no model (the embedded default)."
    model: str | None = None
    api_base: str | None = None
    api_key: str | None = Field(default=None, repr=False)
    "Use `${OPENAI_API_KEY}`: never write a key in the file."


class SignupsConfig(Model):
    """Where an agent's subjects sign up: a new row of a raw table is a new client, picked up
    by `new_signups_sensor` (one Dagster partition per client), screened at load, given an
    onboarding case in `agents.cases`, and drafted for on its own."""

    table: str
    "The raw table whose rows are signups (`crm__clients`); its primary key is the client's key."
    subject_column: str
    "The column of the agent's subjects product holding that key (`crm_client_id`)."
    email: str
    "The table's column with the client's address: a signup without one usable address is "
    "blocked (its row rejected with the reason) and no agent runs for it."
    signed_up_at: str | None = None
    "The table's column saying when the client signed up (default: when the sensor saw it)."


class AgentConfig(Model):
    description: str = ""
    owners: list[Owner] = Field(default_factory=list)
    "Who answers for the agent's drafts (Dagster asset owners)."
    subjects: str
    "Serve product whose rows are the agent's subjects (one draft each)."
    subject_key: str
    subject_name: str
    documents: str | None = None
    "Serve product holding the documents the agent may search."
    documents_key: str | None = None
    "Column of the documents product naming the subject a document belongs to (default: "
    "`subject_key`); the agent only ever searches its subject's documents."
    reads: list[str] = Field(default_factory=list)
    "Serve products the agent's SQL tool may read (the subjects and documents are implied)."
    instructions: str
    tools: list[Literal["sql", "search_documents"]] = Field(
        default_factory=lambda: ["sql", "search_documents"]
    )
    max_steps: int = 8
    max_seconds: float = 60.0
    max_rows: int = 200
    "Rows one SQL call may return."
    max_result_bytes: int = 65_536
    "Bytes (as JSON) one SQL call may return; the rest is cut and the call says so."
    max_query_seconds: float = 5.0
    "Wall-clock limit of one SQL call; the query's process is killed when it is reached."
    memory_limit: str = "512MB"
    "DuckDB memory limit of the agent's sandbox."
    llm: LLMConfig = Field(default_factory=LLMConfig)
    actions: list[Literal["meeting", "task"]] = Field(default_factory=list)
    "Actions the agent may propose with a draft (a kick-off `meeting` invitation, a CRM "
    "`task`); a human approves each, delivery executes them."
    signups: SignupsConfig | None = None
    "Draft per client as each signs up (a sensor and one partition per client), not in batch."

    @property
    def products(self) -> list[str]:
        names = [self.subjects, *self.reads] + ([self.documents] if self.documents else [])
        return list(dict.fromkeys(names))


class SMTPConfig(EmptyIsUnset):
    """The mail server approved drafts are sent through, instead of the `.eml` outbox."""

    host: str
    "Host name or address of the server."
    port: int = Field(default=587, ge=1, le=65535)
    "587 (submission) by default; 25 for a relay that takes mail without a login."
    starttls: bool = True
    "Switch to TLS before anything else is said, and verify the server's certificate against "
    "the system's trust store (`SSL_CERT_FILE` names another). Off only for a relay on this "
    "machine."
    user: str | None = None
    "Log in as this user (after STARTTLS); unset: no login."
    password: str | None = Field(default=None, repr=False)
    "Write `${SMTP_PASSWORD}`: it comes from the environment, never from the file, and is "
    "scrubbed from every message, log and audit record."
    timeout_seconds: float = Field(default=30.0, gt=0)
    "Seconds to wait for each answer of the server. No answer after the message began: it may "
    "have arrived, so the draft stays `sending` and is never sent again on its own."
    retries: int = Field(default=3, ge=0, le=10)
    "Attempts after the first on a temporary error (a 4xx reply, no connection), with a backoff "
    "that doubles from 1 s. A 5xx reply is never retried."

    @model_validator(mode="after")
    def _password_from_the_environment(self) -> SMTPConfig:
        if (self.user is None) != (self.password is None):
            raise ValueError("give both `user` and `password` (a login), or neither")
        _from_the_environment("password", self.password, "SMTP_PASSWORD")
        return self

    @property
    def server(self) -> str:
        """`host:port`, as messages name the server."""
        return f"{self.host}:{self.port}"


class TasksConfig(Model):
    """Where approved `task` actions are written back: a table of a `sql` source (the CRM)."""

    source: str
    "The `sql` source whose database receives the tasks."
    table: str = "tasks"
    "Its table, with the columns task_id, client_id, title, due_date, notes, draft_id, "
    "created_by, created_at (Groundwork never creates it)."
    client_table: str | None = None
    "The raw table of that source whose key is the client's id there (default: the source's "
    "first table an entity maps)."


class DeliveryConfig(Model):
    outbox: str = "outbox"
    "Folder where approved drafts are written as `.eml` files (when no `smtp` is set)."
    sender: str = "onboarding@groundwork.local"
    recipients_from: str = "unified.customer"
    "Table holding the real (unmasked) address of each subject: `<schema>.<table>`."
    recipient_key: str = "customer_id"
    recipient_column: str = "email"
    smtp: SMTPConfig | None = None
    "Send approved drafts through this mail server; unset: write them to the outbox."
    tasks: TasksConfig | None = None
    "Write approved `task` actions back to this CRM table."
    on_action_failure: Literal["hold", "send"] = "hold"
    "`hold`: a draft whose approved task cannot be written is not sent (all or nothing); "
    "`send`: the e-mail goes out and the task is marked failed."


class OpenLineageConfig(EmptyIsUnset):
    """Where OpenLineage run events go: an HTTP receiver (Marquez, a catalog) or a file."""

    url: str | None = None
    "Base URL of the receiver; events are POSTed to `<url>/api/v1/lineage`."
    api_key: str | None = Field(default=None, repr=False)
    "Write `${OPENLINEAGE_API_KEY}`: sent as `Authorization: Bearer`, never in an event or log; "
    "a key written in hub.yaml is refused."
    file: str | None = None
    "Append the events to this file instead, one JSON object per line (relative to hub.yaml)."
    namespace: str | None = None
    "Namespace of the jobs (each Dagster step is one job); default: the project's name."
    timeout_seconds: float = Field(default=2.0, gt=0, le=60)
    "Seconds to wait for the receiver. A failed event is tried once more; then the run goes on "
    "without it (a warning in its log) and sends no more events."

    @model_validator(mode="after")
    def _one_destination(self) -> OpenLineageConfig:
        if (self.url is None) == (self.file is None):
            raise ValueError("give `url` (an HTTP receiver) or `file`, exactly one of them")
        if self.api_key is not None and self.url is None:
            raise ValueError("`api_key` goes with `url`; a file needs none")
        if self.url is not None:
            parts = urllib.parse.urlsplit(self.url)
            if parts.scheme not in ("http", "https") or not parts.hostname:
                raise ValueError(f"`url`: {self.url!r} is not an http(s) URL")
            if parts.username is not None or parts.password is not None:
                raise ValueError("`url`: no credentials in the URL; give the key as `api_key`")
        _from_the_environment("api_key", self.api_key, "OPENLINEAGE_API_KEY")
        return self


class LineageConfig(Model):
    """Lineage out: what Groundwork tells other tools about its runs (off unless set)."""

    openlineage: OpenLineageConfig | None = None
    "Emit OpenLineage START/COMPLETE/FAIL events for every load, build, publication, check "
    "run and agent run."


class StoreConfig(Model):
    path: str = "data/hub.duckdb"
    "The DuckDB file of the governed store."
    agent_path: str = "data/agent.duckdb"
    "The copy of the agent audience's products that agents read, read-only."
    analyst_path: str = "data/analyst.duckdb"
    "The analyst audience's masked copy of `unified`, `serve` and the check results."
    lock_timeout: float = 300.0
    "Seconds to wait while another process writes the store (a load holds it while it reads)."


class HubConfig(Model):
    project: str = "groundwork"
    store: StoreConfig = Field(default_factory=StoreConfig)
    sources: dict[str, SourceConfig] = Field(default_factory=dict)
    entities: dict[str, EntityConfig] = Field(default_factory=dict)
    checks: dict[str, list[CheckConfig]] = Field(default_factory=dict)
    "Per table (`raw.crm__clients`, `unified.customer`, `serve.customers`): expectations."
    governance: GovernanceConfig = Field(default_factory=GovernanceConfig)
    access: AccessConfig = Field(default_factory=AccessConfig)
    mcp: McpConfig = Field(default_factory=McpConfig)
    "`hub mcp`: the audience outside agents read as, and the limits of their queries."
    serve: dict[str, ProductConfig] = Field(default_factory=dict)
    agents: dict[str, AgentConfig] = Field(default_factory=dict)
    delivery: DeliveryConfig = Field(default_factory=DeliveryConfig)
    lineage: LineageConfig = Field(default_factory=LineageConfig)
    root: Path = Field(default=Path("."), exclude=True)
    "Folder of hub.yaml; relative paths resolve against it (set by `load_config`)."

    @model_validator(mode="before")
    @classmethod
    def _commented_out_sections_are_unset(cls, data: Any) -> Any:
        """`checks:` with everything under it commented out is no checks, not an error."""
        if isinstance(data, dict):
            data = {k: v for k, v in data.items() if v is not None}
        return data

    @model_validator(mode="after")
    def _rules_of_the_whole_file(self) -> HubConfig:
        for section in ("sources", "entities", "serve", "agents"):
            for name in getattr(self, section):
                if not re.match(_NAME, name):
                    raise ValueError(
                        f"{section}.{name}: names must be lower_snake_case identifiers"
                    )
        self._steward_reads_clear()
        raw_names = [f"{s}__{t}" for s, t, _ in self.raw_tables()]
        twice = sorted({n for n in raw_names if raw_names.count(n) > 1})
        if twice:
            raise ValueError(
                f"sources and tables map onto the same raw table(s) {twice} "
                "(`<source>__<table>`); rename a source or a table"
            )
        return self

    def _steward_reads_clear(self) -> None:
        policies = self.governance.policies
        unclear = {c: p for c, p in policies.get("steward", {}).items() if p != "clear"}
        if unclear:
            raise ValueError(
                f"governance.policies.steward: {unclear}: the steward reads the store itself, "
                "in clear; remove these or make them `clear`"
            )

    def pii_declarations(self) -> list[tuple[str, str]]:
        """Every declared PII class with where it is declared (`sources.crm.tables...pii`)."""
        found = [
            (f"sources.{s}.tables.{t}.columns.{c}.pii", spec.pii)
            for s, t, table in self.raw_tables()
            for c, spec in table.columns.items()
        ]
        found += [
            (f"entities.{e}.fields.{f}.pii", spec.pii)
            for e, entity in self.entities.items()
            for f, spec in entity.fields.items()
        ]
        found += [
            (f"serve.{p}.columns.{c}.pii", spec.pii)
            for p, product in self.serve.items()
            for c, spec in product.columns.items()
        ]
        return [(at, pii) for at, pii in found if pii]

    def resolve(self, path: str) -> Path:
        candidate = Path(path).expanduser()
        return candidate if candidate.is_absolute() else self.root / candidate

    def raw_tables(self) -> list[tuple[str, str, Table]]:
        """Every (source, table, config) loaded into `raw`."""
        return [(s, t, cfg) for s, src in self.sources.items() for t, cfg in src.tables.items()]


def config_path(path: str | Path | None = None) -> Path:
    """The hub.yaml to use: the argument, else `$HUB_CONFIG`, else `./hub.yaml`."""
    return Path(path or os.environ.get(CONFIG_ENV) or DEFAULT_FILE).resolve()


def load_config(path: str | Path | None = None) -> HubConfig:
    """The project's hub.yaml, validated, with every link between its sections resolved.

    Every error is a `ConfigError` whose lines read `<file>:<line>: <key path>: <what>.
    Fix: <how>`."""
    file = config_path(path)
    if not file.exists():
        raise ConfigError(
            f"{file}: not found. Fix: run `hub init` to write a starter hub.yaml, "
            f"or point {CONFIG_ENV} at your project's hub.yaml."
        )
    try:
        data, lines, duplicates = yaml_lines.read(file.read_text())
    except yaml.YAMLError as exc:
        raise ConfigError(f"{file}: not valid YAML: {exc}. Fix the syntax at that line.") from None
    if duplicates:
        raise ConfigError("\n".join(_duplicate(file, d) for d in duplicates))
    if data is None:
        data = {}
    if not isinstance(data, dict):
        raise ConfigError(f"{file}: the top level must be a mapping of sections.")
    try:
        data = interpolate(data, file=file)
    except ConfigError as exc:  # give the line of the value that names the variable
        said = str(exc).removeprefix(f"{file}: ")
        raise ConfigError(_at_named_path(file, lines, said)) from None
    try:
        config = HubConfig.model_validate({**data, "root": file.parent})
    except ValidationError as exc:
        raise ConfigError(_describe(file, lines, exc)) from None
    dangling = config_links.problems(config)
    if dangling:
        dangling.sort(key=lambda p: lines.of(p.path, p.mention) or 0)
        raise ConfigError(
            "\n".join(
                _located(file, lines, p.path, f"{p.what}. Fix: {p.fix}", p.mention)
                for p in dangling
            )
        )
    from quality.specs import table_checks  # the checks as declared and as Groundwork adds

    try:
        table_checks(config)
    except ValueError as exc:
        raise ConfigError(_at_named_path(file, lines, str(exc))) from None
    return config


def _located(
    file: Path, lines: yaml_lines.Lines, path: tuple, text: str, mention: str | None = None
) -> str:
    """`<file>:<line>: <key path>: <text>` (no line for a value the file does not write)."""
    line = lines.of(path, mention)
    return (
        f"{file}{f':{line}' if line else ''}: {yaml_lines.display(path) or '(top level)'}: {text}"
    )


def _at_named_path(file: Path, lines: yaml_lines.Lines, message: str) -> str:
    """A message that starts with a key path (`checks.raw.x: ...`), given that path's line."""
    named, _, rest = message.partition(": ")
    path = lines.path_named(named) if rest else None
    return _located(file, lines, path, rest) if path else f"{file}: {message}"


def _duplicate(file: Path, duplicate: yaml_lines.Duplicate) -> str:
    *parent, key = duplicate.path
    where = f" under {yaml_lines.display(tuple(parent))}" if parent else ""
    return (
        f"{file}:{duplicate.second_line}: {yaml_lines.display(duplicate.path)}: the key {key!r} "
        f"appears twice{where}, on lines {duplicate.first_line} and {duplicate.second_line}; "
        "YAML would keep only the last one silently. Fix: keep one of them (merge their "
        "contents if both matter)."
    )


def interpolate(value: Any, *, file: Path, at: str = "") -> Any:
    """Replace `${NAME}` / `${NAME:-default}` in every string of the YAML tree.

    A value placed inside a URL's user-info (`postgresql://user:${PW}@host/db`) is
    percent-encoded, so a password with `@ : / # % ?` still parses; it and every value under
    a secret-looking key (`password`, `api_key`, `token`, ...) is registered with
    `hub.secrets`, which scrubs it from every message. A password written in the file
    itself is refused.
    """
    if isinstance(value, dict):
        return {k: interpolate(v, file=file, at=_join(at, k)) for k, v in value.items()}
    if isinstance(value, list):
        return [interpolate(v, file=file, at=f"{at}[{i}]") for i, v in enumerate(value)]
    if not isinstance(value, str):
        return value
    userinfo = _userinfo_span(value)
    _refuse_literal_password(value, userinfo, file=file, at=at)
    secret_key = bool(secrets.SECRET_KEY.search(at.rpartition(".")[2]))

    def substitute(match: re.Match[str]) -> str:
        name, default = match.group(1), match.group(2)
        if name in os.environ:
            found = os.environ[name]
        elif default is not None:
            found = default
        else:
            raise ConfigError(
                f"{file}: {at}: environment variable {name} is not set. "
                f"Fix: export {name}=..., or write ${{{name}:-default}} in hub.yaml."
            )
        in_userinfo = userinfo is not None and userinfo[0] <= match.start() < userinfo[1]
        if in_userinfo or secret_key:
            secrets.register(found)
        return urllib.parse.quote(found, safe="") if in_userinfo else found

    result = _ENV_REF.sub(substitute, value)
    if result != value and "://" in result and userinfo is None:
        _check_url_from_environment(result, file=file, at=at)
    return result


def _userinfo_span(template: str) -> tuple[int, int] | None:
    """Where the user-info of a URL template lies (between `://` and its `@`), looking only
    at the template's own characters, not at the values `${NAME}` will bring."""
    scheme = re.match(r"^[A-Za-z][A-Za-z0-9+.-]*://", template)
    if not scheme:
        return None
    masked = _ENV_REF.sub(lambda m: "x" * len(m.group(0)), template)
    start = scheme.end()
    for index in range(start, len(masked)):
        if masked[index] == "@":
            return start, index
        if masked[index] in "/?#":
            return None
    return None


def _refuse_literal_password(
    template: str, userinfo: tuple[int, int] | None, *, file: Path, at: str
) -> None:
    if userinfo is None:
        return
    literal = _ENV_REF.sub("", template[userinfo[0] : userinfo[1]])
    if literal.partition(":")[2]:
        raise ConfigError(
            f"{file}: {at}: the URL has a password written in hub.yaml. "
            "Fix: take it from the environment, e.g. `postgresql://user:${DB_PASSWORD}@host/db`."
        )


def _check_url_from_environment(url: str, *, file: Path, at: str) -> None:
    """A whole URL from the environment cannot be encoded for the user; refuse one whose
    user-info is ambiguous, and remember its password as a secret."""
    if url.partition("://")[2].count("@") > 1:
        raise ConfigError(
            f"{file}: {at}: the URL taken from the environment has more than one `@`, so its "
            "user or password cannot be told from its host. Fix: "
            "percent-encode `@` in the password as %40, or write the URL in hub.yaml with the "
            "password as its own ${NAME} (`scheme://user:${DB_PASSWORD}@host/db`), which "
            "Groundwork encodes."
        )
    password = urllib.parse.urlsplit(url).password
    if password:
        secrets.register(password)
        secrets.register(urllib.parse.unquote(password))


def _join(at: str, key: Any) -> str:
    return f"{at}.{key}" if at else str(key)


def _describe(file: Path, lines: yaml_lines.Lines, exc: ValidationError) -> str:
    described = []
    for error in exc.errors():
        loc = list(error["loc"])
        if loc[:1] == ["sources"] and len(loc) > 2:
            del loc[2]  # the `kind` pydantic names the chosen model by; not in the file
        message = f"{error['msg']}. Fix: {_fix(error)}"
        said = error["msg"].removeprefix("Value error, ")
        if not loc and said != error["msg"]:  # a whole-file rule names its own key path
            described.append(_at_named_path(file, lines, f"{said}. Fix: {_fix(error)}"))
        else:
            described.append(_located(file, lines, tuple(loc), message))
    return "\n".join(described)


def _fix(error: Any) -> str:
    kind = error["type"]
    if kind == "missing":
        return f"add `{error['loc'][-1]}`."
    if kind == "extra_forbidden":
        return "remove it or correct its spelling (see `hub init` for the known keys)."
    if kind in ("literal_error", "enum"):
        return "use one of the values listed."
    if kind == "list_type":
        return "write a list, e.g. [id] or [a, b]."
    if kind == "string_pattern_mismatch" and error["loc"][-1] == "name":
        return "use only letters, digits and `_` (Dagster's rule for check names)."
    if kind == "string_pattern_mismatch":
        return "use the expected form shown."
    return "correct the value as described."
