"""Every `hub` command, given bad arguments, answers with a short message and exit code 2,
never a traceback; a failed step shows its real cause with exit code 1; hints can be typed."""

from __future__ import annotations

import os
import shutil
import socket
import subprocess
import sys
from pathlib import Path

import pytest
import typer
from dagster._utils.error import SerializableErrorInfo

from hub import cli
from hub.config import load_config
from hub.gate import GateVerdict
from hub.report import Status, next_steps
from hub.runner import cause_of, materialize
from tests.conftest import DemoProject, steward

Capture = pytest.CaptureFixture[str]
Patch = pytest.MonkeyPatch


def all_commands() -> list[tuple[tuple[str, ...], object]]:
    """Every command and command group of the Typer app, found by walking it."""
    found = []

    def walk(path: tuple[str, ...], command: object) -> None:
        found.append((path, command))
        for name, sub in getattr(command, "commands", {}).items():
            walk((*path, name), sub)

    walk((), typer.main.get_command(cli.app))
    return found[1:]  # `hub` itself has its own test


COMMANDS = {" ".join(path): command for path, command in all_commands()}


def placeholders(command) -> list[str]:  # noqa: ANN001 - click Command
    """A value for every required argument and option, so only the bad one is wrong."""
    args = []
    for param in command.params:
        if param.required:
            args += ["x"] if param.param_type_name == "argument" else [param.opts[0], "x"]
    return args


def hub(capsys: Capture, monkeypatch: Patch, *args: str) -> tuple[int, str]:
    """`hub ARGS` in this process, as the entry point runs it: (exit code, all output)."""
    monkeypatch.setattr(sys, "argv", ["hub", *args])
    with pytest.raises(SystemExit) as exited:
        cli.main()
    out = capsys.readouterr()
    code = exited.value.code
    return (code if isinstance(code, int) else 1 if code else 0), out.out + out.err


def squeezed(text: str) -> str:
    """Text without whitespace: a long path the terminal folded still matches."""
    return "".join(text.split())


@pytest.fixture
def elsewhere(tmp_path: Path, monkeypatch: Patch) -> Path:
    """An empty folder with no project in it or in the environment."""
    monkeypatch.chdir(tmp_path)
    monkeypatch.delenv("HUB_CONFIG", raising=False)
    monkeypatch.delenv("HUB_DEBUG", raising=False)
    return tmp_path


@pytest.mark.parametrize("name", sorted(COMMANDS))
def test_every_command_refuses_an_unknown_option(
    name: str, elsewhere: Path, capsys: Capture, monkeypatch: Patch
) -> None:
    command = COMMANDS[name]
    code, out = hub(capsys, monkeypatch, *name.split(), *placeholders(command), "--no-such-opt")
    assert code == 2, out
    assert "No such option" in out and "--no-such-opt" in out
    assert "Traceback" not in out


@pytest.mark.parametrize("name", sorted(n for n, c in COMMANDS.items() if placeholders(c)))
def test_every_command_names_a_missing_argument(
    name: str, elsewhere: Path, capsys: Capture, monkeypatch: Patch
) -> None:
    code, out = hub(capsys, monkeypatch, *name.split())
    assert code == 2, out
    assert "Missing" in out and "Traceback" not in out


NUMBERS = sorted(
    (name, param.opts[0])
    for name, command in COMMANDS.items()
    for param in command.params
    if param.type_descriptor.annotation is int
)


@pytest.mark.parametrize(("name", "option"), NUMBERS)
def test_every_number_option_refuses_a_word(
    name: str, option: str, elsewhere: Path, capsys: Capture, monkeypatch: Patch
) -> None:
    args = [*name.split(), *placeholders(COMMANDS[name]), option, "many"]
    code, out = hub(capsys, monkeypatch, *args)
    assert code == 2, out
    assert "Invalid value" in out and option in out and "Traceback" not in out


WITH_CONFIG = sorted(n for n, c in COMMANDS.items() if any(p.name == "config" for p in c.params))


@pytest.mark.parametrize("name", WITH_CONFIG)
def test_every_command_names_a_config_that_does_not_exist(
    name: str, elsewhere: Path, capsys: Capture, monkeypatch: Patch
) -> None:
    missing = elsewhere / "nowhere" / "hub.yaml"
    args = [*name.split(), *placeholders(COMMANDS[name]), "--config", str(missing)]
    code, out = hub(capsys, monkeypatch, *args)
    assert code == 2, out
    assert out.startswith("error: ") and squeezed(str(missing)) in squeezed(out)
    assert "Traceback" not in out
    assert not missing.parent.exists()


def test_no_command_and_an_unknown_one_print_usage_not_a_traceback(elsewhere: Path) -> None:
    for args in ([], ["nope"], ["audit", "nope"]):
        done = subprocess.run(
            [sys.executable, "-m", "hub.cli", *args],
            cwd=elsewhere,
            capture_output=True,
            text=True,
            timeout=120,
        )
        out = done.stdout + done.stderr
        assert done.returncode == 2 and "Usage:" in out and "Traceback" not in out
    assert "No such command 'nope'" in out


def test_an_unknown_error_is_one_line_with_its_type_and_command(
    elsewhere: Path, capsys: Capture, monkeypatch: Patch
) -> None:
    # `hub demo` writes the demo's hub.yaml to --config: here into a folder that is missing
    target = elsewhere / "nowhere" / "hub.yaml"
    code, out = hub(capsys, monkeypatch, "demo", "--config", str(target))
    assert code == 2
    assert out.startswith("error: FileNotFoundError: ") and "(in `hub demo`)" in out
    assert len(out.strip().splitlines()) <= 3 and "Traceback" not in out
    monkeypatch.setenv("HUB_DEBUG", "1")
    with pytest.raises(FileNotFoundError):
        hub(capsys, monkeypatch, "demo", "--config", str(target))


def test_an_error_raised_in_process_by_dagster_names_the_users_exception(
    monkeypatch: Patch,
) -> None:
    from dagster._core.errors import DagsterExecutionStepExecutionError

    monkeypatch.setattr(sys, "argv", ["hub", "audit", "verify", "--config", "x"])
    try:
        try:
            raise ValueError("the user's own error, at postgresql://u:hunter2@db/x")
        except ValueError as exc:
            raise DagsterExecutionStepExecutionError(
                'Error occurred while executing op "s":',
                user_exception=exc,
                original_exc_info=sys.exc_info(),
                step_key="s",
                op_name="s",
                op_def_name="s",
            ) from exc
    except DagsterExecutionStepExecutionError as wrapped:
        said = cli._explain(wrapped)
    assert said.startswith("ValueError: the user's own error") and "hunter2" not in said
    assert said.endswith("(in `hub audit verify`)")


def write_project(root: Path, sources: str) -> Path:
    root.mkdir(parents=True, exist_ok=True)
    path = root / "hub.yaml"
    path.write_text(f"project: tiny\nsources:\n{sources}")
    return path


def test_duplicate_table_and_invalid_cron_are_config_errors(
    elsewhere: Path, capsys: Capture, monkeypatch: Patch
) -> None:
    monkeypatch.setenv("DAGSTER_HOME", str(elsewhere / ".dagster"))
    same_table = write_project(
        elsewhere / "dup",
        "  a__b: {kind: files, path: x, tables: {c: {}}}\n"
        "  a: {kind: files, path: y, tables: {b__c: {}}}\n",
    )
    bad_cron = write_project(
        elsewhere / "cron",
        "  a: {kind: files, path: x, schedule: '61 * * * *', tables: {t: {}}}\n",
    )
    cases = [("status", same_table, "a__b__c"), ("run", same_table, "a__b__c")]
    cases += [("run", bad_cron, "'61 * * * *'")]  # Dagster judges a cron: `hub run` asks it
    for command, path, named in cases:
        code, out = hub(capsys, monkeypatch, command, "--config", str(path))
        assert code == 2, out
        assert named in out and "Fix" in out and "Traceback" not in out


def test_an_unknown_select_key_is_named_with_the_likely_ones(
    demo_project: DemoProject, capsys: Capture, monkeypatch: Patch
) -> None:
    code, out = hub(capsys, monkeypatch, "run", "--select", "raw/nope")
    assert code == 2
    assert "no asset 'raw/nope'" in out and "unified/customer" in out and "Traceback" not in out
    code, out = hub(capsys, monkeypatch, "run", "--select", "unified/custmer")
    assert code == 2 and "Didyoumeanunified/customer" in squeezed(out)


def test_a_failed_first_run_shows_the_step_and_its_cause(
    tmp_path: Path, capsys: Capture, monkeypatch: Patch
) -> None:
    source = "  hr: {kind: files, path: exports, tables: {people: {primary_key: id}}}\n"
    path = write_project(tmp_path, source)
    (tmp_path / "exports").mkdir()
    (tmp_path / "exports" / "people.parquet").write_text("not a parquet file")
    monkeypatch.setenv("DAGSTER_HOME", str(tmp_path / ".dagster"))
    code, out = hub(capsys, monkeypatch, "run", "--config", str(path))
    assert code == 1, out
    assert "raw__hr__people failed" in out and "InvalidInputError" in squeezed(out)
    assert "no store" not in out and "Traceback" not in out
    assert "Error occurred while executing" not in out
    assert "demo --dirty" not in out and "unified.customer" not in out  # not the demo


def test_a_failing_unify_shows_the_binder_error_and_where_to_fix(
    built_demo: DemoProject, capsys: Capture, monkeypatch: Patch
) -> None:
    config = built_demo.config_path
    config.write_text(config.read_text().replace("{name: company,", "{name: compani,"))
    code, out = hub(capsys, monkeypatch, "run", "--select", "unified/customer")
    assert code == 1, out
    assert "unified__customer failed" in out and "Binder Error" in out and "compani" in out
    assert "Fix: check entities.customer" in out
    assert "Error occurred while executing" not in out and "Traceback" not in out


def closed_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


def test_an_llm_provider_error_is_shown_not_dagsters_wrapper(
    built_demo: DemoProject, capsys: Capture, monkeypatch: Patch
) -> None:
    monkeypatch.setenv("HUB_LLM_PROVIDER", "openai_like")
    monkeypatch.setenv("HUB_LLM_MODEL", "some-model")
    monkeypatch.setenv("HUB_LLM_API_BASE", f"http://127.0.0.1:{closed_port()}/v1")
    monkeypatch.setenv("HUB_LLM_API_KEY", "sk-test-do-not-show")
    code, out = hub(capsys, monkeypatch, "run", "--select", "agents/onboarding")
    assert code == 1, out
    assert "agents__onboarding failed" in out and "Connect" in out
    assert "Error occurred while executing" not in out and "sk-test-do-not-show" not in out


def test_a_delivery_that_fails_says_why_and_where_to_fix(
    built_demo: DemoProject, capsys: Capture, monkeypatch: Patch
) -> None:
    draft = steward("SELECT min(draft_id) FROM agents.drafts WHERE status = 'pending'").iat[0, 0]
    code, out = hub(capsys, monkeypatch, "approve", draft, "--by", "me", "--yes")
    assert code == 0, out
    outbox = built_demo.config.resolve(built_demo.config.delivery.outbox)
    shutil.rmtree(outbox, ignore_errors=True)
    outbox.write_text("a file where the outbox folder should be")
    code, out = hub(capsys, monkeypatch, "deliver")
    assert code == 1, out
    assert "FileExistsError" in out and "Fix: check delivery" in out and "Traceback" not in out


def test_the_cause_is_the_users_exception_and_its_root() -> None:
    def error(cls: str, message: str, cause: SerializableErrorInfo | None = None):
        return SerializableErrorInfo(f"{cls}: {message}\n", [], cls, cause)

    root = error("httpx.ConnectError", "All connection attempts failed")
    wrapped = error(
        "DagsterExecutionStepExecutionError",
        'Error occurred while executing op "agents__onboarding":',
        error("openai.APIConnectionError", "Connection error.", root),
    )
    assert cause_of(wrapped) == (
        "openai.APIConnectionError: Connection error. "
        "(cause: httpx.ConnectError: All connection attempts failed)"
    )
    said = error("hub.load.LoadError", "source s: All connection attempts failed. Fix: ...", root)
    assert cause_of(error("DagsterExecutionStepExecutionError", "Error", said)).startswith(
        "hub.load.LoadError: source s"
    )
    assert "(cause" not in cause_of(said)


def test_hints_never_repeat_a_refused_agent_nor_name_the_demo_elsewhere(tmp_path: Path) -> None:
    config = load_config(write_project(tmp_path, "  a: {kind: files, path: x, tables: {t: {}}}\n"))
    shut = GateVerdict("agent onboarding", ["raw.a__t: check x failed"])
    steps = [cmd for cmd, _ in next_steps(config, Status([], {}, {"onboarding": shut}, None), True)]
    assert any(cmd.endswith(" checks") for cmd in steps)
    assert not any("--select agents/" in cmd or "demo --dirty" in cmd for cmd in steps)
    steps = [cmd for cmd, _ in next_steps(config, Status([], {}, {}, None), False)]
    assert not any("demo --dirty" in cmd or "unified." in cmd for cmd in steps)


def test_hints_say_the_hub_the_user_can_type(tmp_path: Path) -> None:
    project = tmp_path / "project"
    write_project(project, "  hr: {kind: files, path: ., tables: {people: {primary_key: id}}}\n")
    (project / "people.csv").write_text("id,name\n1,a\n")
    script = project / ".venv" / "bin" / "hub"
    script.parent.mkdir(parents=True)
    script.write_text(f"#!{sys.executable}\nfrom hub.cli import main\nmain()\n")
    script.chmod(0o755)
    env = {k: v for k, v in os.environ.items() if k not in ("HUB_CONFIG", "DAGSTER_HOME")}
    path_without = ":".join(p for p in env["PATH"].split(":") if not Path(p, "hub").exists())

    def run(*args: str, path: str) -> str:
        done = subprocess.run(
            [".venv/bin/hub" if path == path_without else "hub", *args],
            cwd=project,
            capture_output=True,
            text=True,
            env={**env, "PATH": path},
            timeout=300,
        )
        assert done.returncode == 0, done.stdout + done.stderr
        return done.stdout

    ran = run("run", path=path_without)
    assert "\n  .venv/bin/hub audit verify " in ran and "\n  hub " not in ran
    assert "demo --dirty" not in ran and "unified.customer" not in ran
    shown = run("status", path=f"{script.parent}:{path_without}")
    assert "\n  hub audit verify " in shown


def test_run_seconds_come_from_dagsters_step_stats(tmp_path: Path, monkeypatch: Patch) -> None:
    path = write_project(
        tmp_path, "  hr: {kind: files, path: ., tables: {people: {primary_key: id}}}\n"
    )
    (tmp_path / "people.csv").write_text("id,name\n1,a\n")
    monkeypatch.setenv("DAGSTER_HOME", str(tmp_path / ".dagster"))
    report = materialize(path)
    assert report.success, report.failures
    assert set(report.seconds) == {"load", "checks"}
    assert all(seconds >= 0 for seconds in report.seconds.values())
