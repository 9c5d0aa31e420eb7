#!/usr/bin/env python3
"""Set-up and the two everyday commands, on a fresh machine with only python3.

    python3 dev.py demo [--dirty]   # install into .venv, then run the demo end to end
    python3 dev.py test [ARGS]      # install into .venv (with dev extras), lint, run pytest
    python3 dev.py bench [ARGS]     # install, then run the benchmarks in benchmarks/
    python3 dev.py lock [ARGS]      # re-resolve uv.lock after editing pyproject.toml's deps

The install makes .venv exactly what uv.lock says (uv sync, dev extras, the project
editable); it is skipped while uv.lock and pyproject.toml are unchanged since the last one.
A uv.lock that no longer matches pyproject.toml stops the install with the fix.
"""

from __future__ import annotations

import hashlib
import os
import subprocess
import sys
import time
import tomllib
import venv
from pathlib import Path

ROOT = Path(__file__).resolve().parent
VENV = ROOT / ".venv"
BIN = VENV / ("Scripts" if sys.platform == "win32" else "bin")
PYTHON = BIN / ("python.exe" if sys.platform == "win32" else "python")
UV = BIN / ("uv.exe" if sys.platform == "win32" else "uv")
LOCK = ROOT / "uv.lock"
STAMP = VENV / ".groundwork-installed"
# uv works on .venv with its own Python (never a downloaded one), and compiles the bytecode
# at install as pip does (else the first test run compiles Dagster, GX and LlamaIndex).
UV_ENV = {
    **os.environ,
    "UV_PROJECT_ENVIRONMENT": str(VENV),
    "UV_PYTHON_DOWNLOADS": "never",
    "UV_COMPILE_BYTECODE": "1",
}


class SetupError(Exception):
    """The install cannot go on; the message says why and how to fix it."""


def locked_uv_version() -> str | None:
    """The uv that uv.lock pins (it is in the dev extras), so the bootstrap installs it."""
    if not LOCK.exists():
        return None
    packages = tomllib.loads(LOCK.read_text())["package"]
    return next((p["version"] for p in packages if p["name"] == "uv"), None)


def bootstrap_uv() -> None:
    """.venv from the standard library's venv, and uv in it from pip: all python3 needs."""
    if not PYTHON.exists():
        print(f"Creating {VENV} …", flush=True)
        try:
            venv.EnvBuilder(with_pip=True).create(VENV)
        except (OSError, subprocess.CalledProcessError) as exc:
            raise SetupError(
                f"could not create {VENV} with pip in it ({exc}). Fix: install Python's venv "
                "and ensurepip (on Debian/Ubuntu: `apt-get install python3-venv`), delete "
                ".venv, and run this command again."
            ) from None
    if UV.exists():
        return
    version = locked_uv_version()
    print(f"Installing uv{f' {version}' if version else ''} into {VENV} …", flush=True)
    pip = [str(PYTHON), "-m", "pip", "install", "-qq", "--disable-pip-version-check"]
    if subprocess.run([*pip, f"uv=={version}" if version else "uv"]).returncode != 0:
        raise SetupError(
            "pip could not install uv into .venv (its message is above). Fix: make the "
            "package index reachable for pip (`pip config list` shows where it looks)."
        )


def install() -> None:
    if not LOCK.exists():
        raise SetupError(
            f"no uv.lock in {ROOT}. Fix: run `python3 dev.py lock`, then commit uv.lock."
        )
    wanted = hashlib.sha256(
        (ROOT / "pyproject.toml").read_bytes() + b"\0" + LOCK.read_bytes()
    ).hexdigest()
    if STAMP.exists() and STAMP.read_text() == wanted:
        return
    bootstrap_uv()
    check = subprocess.run(
        [str(UV), "lock", "--check", "--quiet"], cwd=ROOT, env=UV_ENV, capture_output=True
    )
    said = check.stderr.decode(errors="replace").strip()
    if check.returncode != 0 and "needs to be updated" in said:
        raise SetupError(
            "uv.lock is out of date: pyproject.toml's dependencies changed and uv.lock did "
            "not, so installing from it would not give what pyproject.toml asks for.\n"
            "Fix: run `python3 dev.py lock`, then commit uv.lock with pyproject.toml."
        )
    if check.returncode != 0:
        raise SetupError(
            f"`uv lock --check` could not compare uv.lock with pyproject.toml:\n{said}\n"
            "Fix: correct what uv names above (pyproject.toml, or the package index "
            "being reachable), then run this command again."
        )
    print("Installing Groundwork and its dependencies from uv.lock …", flush=True)
    started = time.monotonic()
    sync = [str(UV), "sync", "--locked", "--extra", "dev", "--quiet"]
    if subprocess.run(sync, cwd=ROOT, env=UV_ENV).returncode != 0:
        raise SetupError(
            f"`{' '.join(sync[1:])}` failed (its message is above). Fix: that message says "
            "what; for a broken .venv, delete it and run this command again."
        )
    print(f"Installed in {time.monotonic() - started:.0f} s.", flush=True)
    STAMP.write_text(wanted)


def main(argv: list[str]) -> int:
    if not argv or argv[0] not in ("demo", "test", "bench", "lock"):
        print(__doc__)
        return 2
    command, rest = argv[0], argv[1:]
    try:
        if command == "lock":
            bootstrap_uv()
            return subprocess.run([str(UV), "lock", *rest], cwd=ROOT, env=UV_ENV).returncode
        install()
    except SetupError as exc:
        print(f"dev.py: {exc}", file=sys.stderr)
        return 1
    if command == "demo":
        return subprocess.run([str(BIN / "hub"), "demo", *rest], cwd=ROOT).returncode
    if command == "bench":
        bench = [str(PYTHON), str(ROOT / "benchmarks" / "run.py"), *rest]
        return subprocess.run(bench, cwd=ROOT).returncode
    lint = subprocess.run([str(BIN / "ruff"), "check", "."], cwd=ROOT).returncode
    tests = subprocess.run([str(PYTHON), "-m", "pytest", *rest], cwd=ROOT).returncode
    if tests == 5:
        print("pytest collected no tests: that is a failure here.", file=sys.stderr)
    return tests or lint


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
