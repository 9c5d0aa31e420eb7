#!/usr/bin/env python3
"""Set-up and the two everyday commands, on a fresh machine with only python3.

    python3 dev.py demo [--dirty]   # install into .venv, then run the demo end to end
    python3 dev.py test [ARGS]      # install into .venv (with dev extras), lint, run pytest
    python3 dev.py bench [ARGS]     # install, then run the benchmarks in benchmarks/

The install step is skipped when pyproject.toml has not changed since the last one.
"""

from __future__ import annotations

import hashlib
import subprocess
import sys
import venv
from pathlib import Path

ROOT = Path(__file__).resolve().parent
VENV = ROOT / ".venv"
BIN = VENV / ("Scripts" if sys.platform == "win32" else "bin")
STAMP = VENV / ".groundwork-installed"


def install() -> None:
    wanted = hashlib.sha256((ROOT / "pyproject.toml").read_bytes()).hexdigest()
    if STAMP.exists() and STAMP.read_text() == wanted:
        return
    if not (BIN / "python").exists():
        print(f"Creating {VENV} …", flush=True)
        venv.EnvBuilder(with_pip=True).create(VENV)
    print("Installing Groundwork and its dependencies (first time: about 2 minutes) …", flush=True)
    pip = [str(BIN / "python"), "-m", "pip", "install", "--quiet", "--disable-pip-version-check"]
    subprocess.run([*pip, "--upgrade", "pip"], check=True)
    subprocess.run([*pip, "-e", f"{ROOT}[dev]"], check=True)
    STAMP.write_text(wanted)


def main(argv: list[str]) -> int:
    if not argv or argv[0] not in ("demo", "test", "bench"):
        print(__doc__)
        return 2
    install()
    command, rest = argv[0], argv[1:]
    if command == "demo":
        return subprocess.run([str(BIN / "hub"), "demo", *rest], cwd=ROOT).returncode
    if command == "bench":
        bench = [str(BIN / "python"), str(ROOT / "benchmarks" / "run.py"), *rest]
        return subprocess.run(bench, cwd=ROOT).returncode
    lint = subprocess.run([str(BIN / "ruff"), "check", "."], cwd=ROOT).returncode
    tests = subprocess.run([str(BIN / "python"), "-m", "pytest", *rest], cwd=ROOT).returncode
    if tests == 5:
        print("pytest collected no tests: that is a failure here.", file=sys.stderr)
    return tests or lint


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
