"""Where a training run writes: never over the installed default model unless asked, and all at once at the end.

A run builds its files in a hidden sibling of the output folder and moves them into place only when it
succeeded; a run that fails, or is rejected for a regression, leaves the output folder as it was.
"""

from __future__ import annotations

import contextlib
import json
import os
import secrets
import shutil
from datetime import datetime
from pathlib import Path

from .config import ConfigError

#: What a run writes into its output folder (``baseline`` is a folder); an earlier run's copies are replaced.
RUN_FILES = ("config.json", "model.safetensors", "metrics.json", "run.json", "training_log.jsonl", "baseline")


def installed_model_dir() -> Path:
    """The default model folder of the installed package (``modcls/default_model``)."""
    from .. import moderator

    return Path(moderator.DEFAULT_MODEL_DIR)


def is_installed_model(folder: str | Path) -> bool:
    """Whether ``folder`` is, or lies inside, the installed package's default model folder."""
    target, installed = Path(folder).resolve(), installed_model_dir().resolve()
    return target == installed or installed in target.parents


def run_name(init_from: str | Path | None, model_version: str | None, now: datetime | None = None) -> str:
    """``<starting model's version, or its folder name, or the config's version>-<YYYYmmdd-HHMMSS>``."""
    name = None
    if init_from:
        with contextlib.suppress(OSError, ValueError, AttributeError):
            name = json.loads((Path(init_from) / "config.json").read_text(encoding="utf-8")).get("model_version")
        name = name or Path(init_from).resolve().name
    name = str(name or model_version or "model").replace("/", "-")
    return f"{name}-{(now or datetime.now()):%Y%m%d-%H%M%S}"


def new_run_dir(parent: str | Path, name: str) -> Path:
    """``parent/name``, or ``parent/name-2`` (-3, ...) when that exists."""
    parent = Path(parent)
    candidate, k = parent / name, 1
    while candidate.exists():
        k += 1
        candidate = parent / f"{name}-{k}"
    return candidate


def holds_installed_model(folder: str | Path) -> bool:
    """Whether writing into ``folder`` would replace (part of) the installed default model."""
    return is_installed_model(folder) and (installed_model_dir() / "config.json").is_file()


def check_output_dir(folder: Path, explicit: bool, overwrite: bool) -> None:
    """Refuse the installed default model as an output folder unless named explicitly or ``overwrite``."""
    if not explicit and not overwrite and holds_installed_model(folder):
        raise ConfigError(
            f"the config's output_dir is the installed default model ({folder}): a run would replace it. "
            "Give --output-dir DIR for a new model, or --overwrite to replace the installed one on purpose"
        )


def staging_dir(out: Path) -> Path:
    """A new empty hidden folder beside ``out`` where a run builds its files."""
    out.parent.mkdir(parents=True, exist_ok=True)
    while True:
        path = out.parent / f".{out.name}.tmp-{secrets.token_hex(4)}"
        with contextlib.suppress(FileExistsError):
            path.mkdir()
            return path


def commit(staging: Path, out: Path) -> None:
    """Move the run's files from ``staging`` into ``out``, replacing those of an earlier run; drop ``staging``."""
    out.mkdir(parents=True, exist_ok=True)
    for name in sorted(set(RUN_FILES) | {p.name for p in staging.iterdir()}):
        source, target = staging / name, out / name
        if target.is_dir() and not target.is_symlink():
            shutil.rmtree(target)
        elif target.exists():
            target.unlink()
        if source.exists():
            os.replace(source, target)
    shutil.rmtree(staging, ignore_errors=True)


def set_aside(staging: Path, out: Path, tag: str) -> Path:
    """Keep a rejected run's files in ``<out>.<tag>-<timestamp>`` beside ``out`` (which is left as it was)."""
    folder = new_run_dir(out.parent, f"{out.name}.{tag}-{datetime.now():%Y%m%d-%H%M%S}")
    os.replace(staging, folder)
    return folder
