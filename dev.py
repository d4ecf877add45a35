#!/usr/bin/env python3
"""Set up a virtual environment and run the project's main job or its tests. Needs only Python 3.11+.

    python3 dev.py demo    # moderate examples/article.txt with the shipped default model
    python3 dev.py test    # run the test suite (arguments after `test` go to pytest)

Each command sets up what it needs, once, in `.venv`: torch 2.13.0 (CPU build, installed with pip), then
with uv (installed into .venv with pip when not on PATH) the package and, for `test`, its `dev` extras.
`demo` installs only what moderating needs. Nothing already installed is downloaded again.
"""

from __future__ import annotations

import hashlib
import json
import shutil
import subprocess
import sys
import time
import venv
from pathlib import Path

ROOT = Path(__file__).resolve().parent
VENV = ROOT / ".venv"
PYTHON = VENV / "bin" / "python"
STAMP = VENV / ".modcls-setup"
TORCH = "torch==2.13.0"
UV = "uv>=0.4"

#: What each command installs; a later entry includes the earlier ones.
PROFILES = {"demo": ".", "test": ".[dev]"}


def log(message: str) -> None:
    print(f"dev.py: {message}", file=sys.stderr, flush=True)


def sh(*args: str | Path, quiet: bool = False) -> None:
    """Run a command in the repository; with ``quiet``, show its output only when it fails."""
    command = [str(a) for a in args]
    result = subprocess.run(command, cwd=ROOT, capture_output=quiet, text=True)
    if result.returncode != 0:
        if quiet:
            sys.stderr.write(result.stdout + result.stderr)
        sys.exit(f"dev.py: failed ({result.returncode}): {' '.join(command)}")


def fingerprint() -> str:
    return hashlib.sha256((ROOT / "pyproject.toml").read_bytes() + TORCH.encode()).hexdigest()


def done_profiles() -> dict[str, str]:
    try:
        stamp = json.loads(STAMP.read_text())
    except (OSError, ValueError):
        return {}
    return stamp if isinstance(stamp, dict) else {}


def is_set_up(profile: str) -> bool:
    wanted, done = fingerprint(), done_profiles()
    later = list(PROFILES)[list(PROFILES).index(profile):]
    return any(done.get(p) == wanted for p in later)


def find_uv() -> Path:
    """uv from PATH, else from .venv (installed there with pip on first use)."""
    for candidate in (shutil.which("uv"), VENV / "bin" / "uv"):
        if candidate and Path(candidate).is_file():
            return Path(candidate)
    log(f"installing {UV} with pip")
    sh(PYTHON, "-m", "pip", "install", "--disable-pip-version-check", "-q", UV, quiet=True)
    return VENV / "bin" / "uv"


def setup(profile: str) -> None:
    """Create or complete ``.venv`` for ``profile``; nothing to do when pyproject.toml is unchanged."""
    if is_set_up(profile):
        return
    started = time.perf_counter()
    if not PYTHON.exists():
        log("creating .venv")
        venv.EnvBuilder(with_pip=True).create(VENV)
    # torch first, with pip: pip takes the CPU build from this machine's configuration; a bare requirement
    # resolved elsewhere would pull a multi-GB CUDA build. uv then sees it installed and keeps it.
    if not _installed(TORCH):
        log(f"installing {TORCH} (CPU build) with pip")
        sh(PYTHON, "-m", "pip", "install", "--disable-pip-version-check", "-q", TORCH, quiet=True)
    constraints = VENV / "modcls-constraints.txt"
    constraints.write_text(TORCH + "\n")
    uv = find_uv()
    log(f"installing modcls{PROFILES[profile][1:]} with uv")
    sh(uv, "pip", "install", "--python", PYTHON, "--quiet", "--constraint", constraints,
       "--editable", PROFILES[profile])
    if not _installed(TORCH):  # never expected: the constraint keeps the CPU build
        sys.exit(f"dev.py: {TORCH} was replaced during set-up; remove .venv and run again")
    sh(PYTHON, "-m", "modcls", "base", quiet=True)
    STAMP.write_text(json.dumps(done_profiles() | {profile: fingerprint()}))
    log(f"set-up for {profile} done in {time.perf_counter() - started:.0f} s")


def _installed(requirement: str) -> bool:
    name, version = requirement.split("==")
    if not PYTHON.exists():
        return False
    probe = f"import importlib.metadata as m; print(m.version({name!r}))"
    found = subprocess.run([str(PYTHON), "-c", probe], capture_output=True, text=True).stdout.strip()
    return found.split("+")[0] == version


def main(argv: list[str]) -> int:
    commands = {
        "demo": [PYTHON, "-m", "modcls", "moderate", "examples/article.txt"],
        "test": [PYTHON, "-m", "pytest", "-q"],
    }
    if len(argv) < 1 or argv[0] not in commands:
        print(__doc__, file=sys.stderr)
        return 2
    setup(argv[0])
    return subprocess.run([str(a) for a in commands[argv[0]]] + argv[1:], cwd=ROOT).returncode


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
