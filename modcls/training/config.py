"""Training configuration: a dataclass read from JSON or YAML, with the data manifest it trains on."""

from __future__ import annotations

import dataclasses
import hashlib
import json
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from ..errors import ModclsError

#: Default of :attr:`TrainingConfig.min_calibration_positives`.
MIN_CALIBRATION_POSITIVES = 5


class ConfigError(ModclsError, ValueError):
    """A training configuration or data manifest that cannot be used."""


@dataclass
class DataFile:
    """One labelled JSONL file of the manifest.

    ``text_from`` names a second file holding the texts by id, for label-only files whose text is read
    from elsewhere (real paragraphs labelled by the project). ``weight`` scales the loss of its rows.
    ``format`` is ``rows`` (one labelled paragraph per line) or ``articles`` (one article per line, its
    paragraphs labelled one by one; each paragraph after the headline is read with the headline as context).
    """

    path: str
    sha256: str
    weight: float = 1.0
    format: str = "rows"
    text_from: str | None = None
    text_from_sha256: str | None = None


@dataclass
class TrainingConfig:
    """Everything a training run depends on. Paths are relative to the config file's folder."""

    output_dir: str = "runs/model"
    base_model: str | None = None
    data: list[DataFile] = field(default_factory=list)
    splits: str = "data/splits.json"
    seed: int = 13
    epochs: int = 4
    #: Stop after this many optimizer steps in all (None: run the epochs); for quick runs.
    max_steps: int | None = None
    #: At most this many rows of each split (a fixed sample by seed; --add-data rows are all kept); for quick runs.
    limit_rows: int | None = None
    patience: int = 1
    batch_size: int = 16
    learning_rate: float = 5e-5
    head_learning_rate: float = 1e-3
    weight_decay: float = 0.01
    warmup_ratio: float = 0.06
    max_train_tokens: int = 256
    #: Most tokens of article context (the headline) read with a paragraph; 0 trains a paragraph-only model.
    context_tokens: int = 0
    #: Share of training rows with a context that are trained without it (the model must also work alone).
    context_dropout: float = 0.25
    #: Learning rate of each trained layer = learning_rate * layer_lr_decay ** (layers above it).
    layer_lr_decay: float = 1.0
    freeze_embeddings: bool = True
    freeze_layers: int = 0
    #: Run the frozen layers once and train on their cached output (same result, far less compute).
    cache_frozen_features: bool = True
    topic_loss_weight: float = 1.0
    sensitivity_loss_weight: float = 1.0
    max_pos_weight: float = 10.0
    csa_min_recall: float = 0.95
    #: Fewest validation positives a category needs for its threshold to be fitted (see calibration).
    min_calibration_positives: int = MIN_CALIBRATION_POSITIVES
    #: Categories with an urgent tier: the lowest threshold whose validation precision reaches this value.
    urgent_min_precision: dict[str, float] = field(default_factory=lambda: {"child_sexual_abuse": 0.85})
    eval_batch_size: int = 32
    num_threads: int | None = None
    model_version: str | None = None
    baseline: bool = True
    #: Folder the relative paths are resolved against (set by :meth:`from_file`).
    root: str = "."

    @classmethod
    def from_dict(cls, data: dict[str, Any], root: str | Path = ".") -> TrainingConfig:
        known = {f.name for f in dataclasses.fields(cls)}
        unknown = set(data) - known
        if unknown:
            raise ConfigError(f"unknown training option(s): {', '.join(sorted(unknown))}")
        values = dict(data)
        values["data"] = [d if isinstance(d, DataFile) else DataFile(**d) for d in values.get("data", [])]
        values.setdefault("root", str(root))
        return cls(**values)

    @classmethod
    def from_file(cls, path: str | Path) -> TrainingConfig:
        """Read a JSON or YAML config; relative paths in it are relative to its ``root`` (default: its folder).

        ``extends: OTHER`` (a path relative to this file) starts from OTHER's options, root included, and
        overrides those this file gives.
        """
        data, root = _read_config(Path(path), seen=())
        return cls.from_dict(data, root=root)

    def to_dict(self) -> dict[str, Any]:
        return dataclasses.asdict(self)

    def resolve(self, relative: str) -> Path:
        """A path of the config, resolved against :attr:`root`."""
        p = Path(relative)
        return p if p.is_absolute() else Path(self.root) / p


def _read_config(path: Path, seen: tuple[Path, ...]) -> tuple[dict[str, Any], Path]:
    """The options of one config file, merged over those it extends, and the root they resolve against."""
    try:
        text = path.read_text(encoding="utf-8")
    except OSError as err:
        raise ConfigError(f"cannot read training config {path}: {err.strerror or err}") from None
    try:
        if path.suffix.lower() in {".yaml", ".yml"}:
            import yaml

            data = yaml.safe_load(text) or {}
        else:
            data = json.loads(text)
    except Exception as err:  # json's ValueError or yaml's YAMLError
        raise ConfigError(f"training config {path} does not parse: {err}") from None
    if not isinstance(data, dict):
        raise ConfigError(f"training config {path} must hold a mapping of options")
    folder = path.resolve().parent
    parent = data.pop("extends", None)
    own_root = data.pop("root", None)
    merged: dict[str, Any] = {}
    root = folder
    if parent:
        parent_path = (folder / parent).resolve()
        if parent_path in seen:
            raise ConfigError(f"training config {path} extends itself through {parent}")
        merged, root = _read_config(parent_path, (*seen, parent_path))
    if own_root:
        root = (folder / own_root).resolve()
    return merged | data, root


def sha256_file(path: str | Path) -> str:
    digest = hashlib.sha256()
    with open(path, "rb") as f:
        for block in iter(lambda: f.read(1 << 20), b""):
            digest.update(block)
    return digest.hexdigest()


def verify_manifest(config: TrainingConfig) -> dict[str, str]:
    """Check every data file against its recorded sha256; return ``{path: sha256}``. Refuses on change."""
    checked = {}
    for item in config.data:
        pairs = [(item.path, item.sha256)]
        if item.text_from:
            pairs.append((item.text_from, item.text_from_sha256 or ""))
        for rel, expected in pairs:
            path = config.resolve(rel)
            if not path.is_file():
                raise ConfigError(f"data file not found: {path}")
            found = sha256_file(path)
            if found != expected:
                raise ConfigError(
                    f"data file {rel} has sha256 {found}, the manifest records {expected or '(none)'}: "
                    "the data changed; update the manifest on purpose (training/manifest.py) or restore the file"
                )
            checked[rel] = found
    return checked
