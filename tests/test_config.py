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
    with pytest.raises(ConfigError, match=r"sources\.billing: .*'documents', 'files', 'http'"):
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
