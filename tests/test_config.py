"""hub.yaml: validation errors name the file, the path inside it and the fix."""

from __future__ import annotations

from pathlib import Path

import pytest

from hub.config import ConfigError, load_config
from hub.demo import DEMO_CONFIG

TEMPLATE = Path(__file__).parents[1] / "hub" / "templates" / "hub.yaml"


def write(tmp_path: Path, text: str) -> Path:
    path = tmp_path / "hub.yaml"
    path.write_text(text)
    return path


def test_demo_and_starter_files_are_valid() -> None:
    assert set(load_config(DEMO_CONFIG).sources) == {"crm", "billing", "support", "docs"}
    starter = load_config(TEMPLATE)
    assert set(starter.sources) == {"shop"} and set(starter.checks) == {"raw.shop__orders"}
    assert not starter.entities and not starter.serve and not starter.agents


def test_error_names_file_path_and_fix(tmp_path: Path) -> None:
    path = write(
        tmp_path,
        "sources:\n  crm:\n    kind: sql\n    url: sqlite:///x.db\n"
        "    tables:\n      clients: {primary_key: 3, colums: {}}\n",
    )
    with pytest.raises(ConfigError) as error:
        load_config(path)
    message = str(error.value)
    assert str(path) in message
    assert "sources.crm.tables.clients.primary_key: Input should be a valid list" in message
    assert "Fix: write a list" in message
    assert "sources.crm.tables.clients.colums: Extra inputs are not permitted" in message
    assert "Fix: remove it or correct its spelling" in message


def test_kind_specific_location_is_required(tmp_path: Path) -> None:
    path = write(tmp_path, "sources:\n  billing:\n    kind: files\n    tables: {x: {}}\n")
    with pytest.raises(ConfigError, match=r"sources\.billing\.path: Field required\. Fix: add"):
        load_config(path)
    path.write_text("sources:\n  billing:\n    kind: ftp\n    tables: {x: {}}\n")
    with pytest.raises(ConfigError, match=r"sources\.billing: .*'documents', 'files', .*'http'"):
        load_config(path)


def test_environment_interpolation_with_default(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    path = write(
        tmp_path,
        "sources:\n  api:\n    kind: http\n    url: ${API_URL:-http://127.0.0.1:9}\n"
        "    tables: {t: {}}\n  db:\n    kind: sql\n    url: postgresql://u:${DB_PW}@h/db\n"
        "    tables: {t: {}}\n",
    )
    monkeypatch.setenv("DB_PW", "pw")
    config = load_config(path)
    assert config.sources["api"].url == "http://127.0.0.1:9"
    assert config.sources["db"].url == "postgresql://u:pw@h/db"
    monkeypatch.delenv("DB_PW")
    with pytest.raises(ConfigError, match=r"sources\.db\.url: environment variable DB_PW is not"):
        load_config(path)


def test_missing_file_says_how_to_start(tmp_path: Path) -> None:
    with pytest.raises(ConfigError, match="run `hub init`"):
        load_config(tmp_path / "nope.yaml")


def test_relative_paths_resolve_against_the_file(tmp_path: Path) -> None:
    config = load_config(write(tmp_path, "store: {path: d/hub.duckdb}\n"))
    assert config.resolve(config.store.path) == tmp_path / "d" / "hub.duckdb"


def test_a_key_twice_colliding_tables_and_a_bad_cron_are_config_errors(tmp_path: Path) -> None:
    from assets import build_definitions

    path = write(
        tmp_path,
        "sources:\n  a: {kind: files, path: x, tables: {t: {}}}\n"
        "  a: {kind: files, path: y, tables: {t: {}}}\n",
    )
    with pytest.raises(ConfigError, match=r"hub.yaml:3: sources.a: the key 'a' appears twice"):
        load_config(path)
    path = write(
        tmp_path,
        "sources:\n  a__b: {kind: files, path: x, tables: {c: {}}}\n"
        "  a: {kind: files, path: y, tables: {b__c: {}}}\n",
    )
    with pytest.raises(ConfigError, match=r"the same raw table\(s\) \['a__b__c'\]"):
        load_config(path)
    path = write(
        tmp_path, "sources:\n  a: {kind: files, path: x, schedule: '61 * * * *', tables: {t: {}}}\n"
    )
    with pytest.raises(ConfigError, match=r"sources.a.schedule: '61 \* \* \* \*' is not a cron"):
        build_definitions(load_config(path), str(path))
    path = write(
        tmp_path, "sources:\n  a: {kind: files, path: x, schedule: '0 6 * *', tables: {t: {}}}\n"
    )
    with pytest.raises(ConfigError, match=r"hub.yaml:2: sources.a.schedule: '0 6 \* \*' is not a"):
        load_config(path)  # four fields: caught when the file loads, with its line


def test_check_names_follow_dagsters_rule(tmp_path: Path) -> None:
    """A named check must be a Dagster check name; a default name built from a column with a
    space (real exports have them) is made one."""
    from quality.specs import table_checks

    source = (
        "sources:\n  lab:\n    kind: files\n    path: exports\n    tables:\n"
        "      penguins: {primary_key: Sample Number, references: {Study: lab__studies.id}}\n"
        "      studies: {primary_key: id}\n"
    )
    check = (
        "    - {expect: expect_column_values_to_not_be_null, kwargs: {column: Individual ID}%s}\n"
    )
    named = write(tmp_path, source + "checks:\n  raw.lab__penguins:\n" + check % ", name: id given")
    with pytest.raises(ConfigError) as error:
        load_config(named)
    assert "checks.raw.lab__penguins[0].name" in str(error.value)
    assert "use only letters, digits and `_`" in str(error.value)

    config = load_config(write(tmp_path, source + "checks:\n  raw.lab__penguins:\n" + check % ""))
    names = [s.name for s in table_checks(config)["raw.lab__penguins"]]
    assert {"not_null__Individual_ID", "unique__Sample_Number", "references__Study"} <= set(names)


def test_two_checks_of_one_name_are_a_config_error(tmp_path: Path) -> None:
    source = (
        "sources:\n  lab:\n    kind: files\n    path: exports\n    tables:\n"
        "      penguins: {primary_key: id}\n"
        "checks:\n  raw.lab__penguins:\n"
        "    - {expect: expect_column_values_to_not_be_null, kwargs: {column: a},\n"
        "       name: row_count}\n"
    )
    with pytest.raises(ConfigError) as error:
        load_config(write(tmp_path, source))
    assert "two checks are named row_count" in str(error.value)
    assert "Fix: give each a distinct `name:`" in str(error.value)


# --- the links between sections, resolved at load with their line --------------------------


def demo_with(tmp_path: Path, *replacements: tuple[str, str]) -> tuple[Path, list[str]]:
    """The demo's hub.yaml with each (old, new) replaced once; its path and lines."""
    text = DEMO_CONFIG.read_text()
    for old, new in replacements:
        assert text.count(old) == 1, old
        text = text.replace(old, new)
    return write(tmp_path, text), text.splitlines()


def line_of(lines: list[str], text: str) -> int:
    return next(number for number, line in enumerate(lines, 1) if text in line)


def config_error(path: Path) -> str:
    with pytest.raises(ConfigError) as error:
        load_config(path)
    return str(error.value)


def test_a_dangling_entity_source_names_line_key_and_the_tables_it_could_be(
    tmp_path: Path,
) -> None:
    path, lines = demo_with(tmp_path, ("- table: billing__accounts", "- table: billing__acounts"))
    message = config_error(path)
    line = line_of(lines, "billing__acounts")
    assert message.startswith(f"{path}:{line}: entities.customer.sources[1].table: ")
    assert "no table billing__acounts (sources.billing has accounts, invoices)" in message
    assert "Fix: name a raw table as `<source>__<table>`, e.g. `billing__accounts`" in message


def test_every_dangling_link_is_reported_at_its_own_line(tmp_path: Path) -> None:
    path, lines = demo_with(
        tmp_path,
        ("  raw.billing__invoices:", "  raw.billing__invoice:"),
        ("      kwargs: {column: name}", "      kwargs: {column: nmae}"),
        ("      FROM unified.customer c\n", "      FROM unified.custmer c\n"),
        ("    subjects: clients", "    subjects: client"),
        ("recipients_from: unified.customer", "recipients_from: unified.customers"),
        ("{client_id: crm__clients.client_id}", "{client_id: crm__client.client_id}"),
    )
    found = config_error(path).splitlines()
    expected = [
        (
            "crm__client.client_id",
            "sources.crm.tables.contacts.references.client_id: no table "
            "raw.crm__client. Fix: reference `raw.crm__clients`",
        ),
        (
            "raw.billing__invoice:",
            "checks.raw.billing__invoice: no table raw.billing__invoice "
            "to check. Fix: check `raw.billing__invoices`",
        ),
        (
            "{column: nmae}",
            "checks.unified.customer[0].kwargs.column: no column nmae in "
            "unified.customer; it has customer_id, email, name, phone, source_records. Fix: name "
            "one of its columns (`name`?)",
        ),
        (
            "FROM unified.custmer",
            "serve.clients.sql: reads unified.custmer, a table no section "
            "declares. Fix: read `unified.customer` or `unified.customer_xref`",
        ),
        (
            "subjects: client",
            "agents.onboarding.subjects: no serve product client. Fix: name `clients`",
        ),
        (
            "recipients_from:",
            "delivery.recipients_from: no table unified.customers to take the "
            "recipients' addresses from. Fix: name the table holding each subject's address, "
            "`unified.customer`",
        ),
    ]
    assert len(found) == len(expected), found
    for (anchor, said), message in zip(expected, found, strict=True):
        assert message.startswith(f"{path}:{line_of(lines, anchor)}: {said}"), message


def test_product_columns_named_by_their_select_are_resolved(tmp_path: Path) -> None:
    path, lines = demo_with(
        tmp_path,
        ("    subject_key: customer_id", "    subject_key: client_id"),
        ("    primary_key: [doc_id]", "    primary_key: [document_id]"),
    )
    found = config_error(path).splitlines()
    assert found[0].startswith(
        f"{path}:{line_of(lines, 'primary_key: [document_id]')}: serve.onboarding_docs."
        "primary_key[0]: no column document_id in serve.onboarding_docs"
    )
    subject = f"{path}:{line_of(lines, 'subject_key: client_id')}: agents.onboarding.subject_key"
    assert found[1].startswith(f"{subject}: no column client_id in serve.clients")
    assert found[2].startswith(f"{subject}: no column client_id in serve.onboarding_docs")
    assert "as the documents' key (`documents_key` unset, so the subject_key)" in found[2]


def test_agents_read_only_agent_products_and_products_no_loop(tmp_path: Path) -> None:
    path, lines = demo_with(
        tmp_path,
        (
            "    audience: agent\n    primary_key: [doc_id]",
            "    audience: analyst\n    primary_key: [doc_id]",
        ),
        ("      FROM raw.docs__onboarding d", "      FROM serve.onboarding_docs d"),
    )
    found = config_error(path).splitlines()
    assert any(
        f":{line_of(lines, 'FROM serve.onboarding_docs')}: serve.onboarding_docs.sql: the "
        "products read each other in a loop (serve.onboarding_docs → serve.onboarding_docs)" in m
        for m in found
    ), found
    assert any(
        f":{line_of(lines, 'documents: onboarding_docs')}: agents.onboarding.documents: "
        "serve.onboarding_docs is published to the `analyst` audience"
        in m
        and "Fix: set `audience: agent` under serve.onboarding_docs" in m
        for m in found
    ), found


def test_a_table_without_its_layer_in_product_sql_is_named(tmp_path: Path) -> None:
    path, lines = demo_with(tmp_path, ("LEFT JOIN unified.customer_xref x", "LEFT JOIN customer x"))
    message = config_error(path)
    assert message.startswith(
        f"{path}:{line_of(lines, 'LEFT JOIN customer x')}: serve.onboarding_docs.sql: reads "
        "customer without its layer"
    )
    assert "(`unified.customer`)" in message


def test_raw_columns_are_left_to_the_data(tmp_path: Path) -> None:
    """Only the source knows a raw table's columns: a check or an entity naming one that
    may not exist loads, and the run says so when it reads the data."""
    path, _ = demo_with(
        tmp_path,
        ("kwargs: {column: status, value_set", "kwargs: {column: state, value_set"),
        ("fields: {name: company, email: email, phone: phone}", "fields: {name: firm}"),
    )
    assert load_config(path).checks["raw.billing__invoices"][0].kwargs["column"] == "state"


def test_keys_written_twice_at_any_depth_name_both_lines(tmp_path: Path) -> None:
    path = write(
        tmp_path,
        "sources:\n"
        "  a:\n"
        "    kind: files\n"
        "    path: x\n"
        "    tables:\n"
        "      t: {primary_key: id, primary_key: [id]}\n"
        "checks:\n"
        "  raw.a__t:\n"
        "    - expect: expect_table_row_count_to_be_between\n"
        "      kwargs: {min_value: 1}\n"
        "      kwargs: {min_value: 2}\n",
    )
    found = config_error(path).splitlines()
    assert found == [
        f"{path}:6: sources.a.tables.t.primary_key: the key 'primary_key' appears twice under "
        "sources.a.tables.t, on lines 6 and 6; YAML would keep only the last one silently. "
        "Fix: keep one of them (merge their contents if both matter).",
        f"{path}:11: checks.raw.a__t[0].kwargs: the key 'kwargs' appears twice under "
        "checks.raw.a__t[0], on lines 10 and 11; YAML would keep only the last one silently. "
        "Fix: keep one of them (merge their contents if both matter).",
    ]


def test_schema_errors_and_unset_variables_give_their_line(tmp_path: Path) -> None:
    path = write(
        tmp_path,
        "project: p\n"
        "sources:\n"
        "  crm:\n"
        "    kind: sql\n"
        "    url: postgresql://u:${NO_SUCH_PW_8}@h/db\n"
        "    tables:\n"
        "      clients: {primary_key: 3}\n",
    )
    assert config_error(path).startswith(
        f"{path}:5: sources.crm.url: environment variable NO_SUCH_PW_8 is not set. Fix: export"
    )
    path.write_text(path.read_text().replace("${NO_SUCH_PW_8}", "${NO_SUCH_PW_8:-x}"))
    assert config_error(path).startswith(
        f"{path}:7: sources.crm.tables.clients.primary_key: Input should be a valid list. "
        "Fix: write a list"
    )


def test_a_section_commented_out_entirely_is_empty(tmp_path: Path) -> None:
    path = write(
        tmp_path,
        "sources:\n  a: {kind: files, path: x, tables: {t: {}}}\n"
        "checks:\n  # raw.a__t:\n  #   - expect: expect_table_row_count_to_be_between\n"
        "serve:\n",
    )
    config = load_config(path)
    assert config.checks == {} and config.serve == {}
