"""Score drift: each category's score distribution over recent traffic against the one at training time.

The reference (``score_reference.json`` in the model folder) holds, per category, bin edges at the
deciles of the model's scores on its validation split and the share of validation paragraphs in each bin.
Served traffic is kept in a rolling window; its drift per category is the population stability index

    PSI = sum over bins of (window share - reference share) * ln(window share / reference share)

(shares floored at 0.001). Rule of thumb: under 0.1 stable, 0.1-0.25 moving, over 0.25 a different
population. Deciles make every bin hold a tenth of the reference, so a shift anywhere in the range shows.
"""

from __future__ import annotations

import hashlib
import json
import threading
from collections import deque
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import numpy as np

REFERENCE_FILE = "score_reference.json"
#: Fewest paragraphs in the window before drift is reported.
MIN_WINDOW = 50
_FLOOR = 1e-3


def reference_from_scores(
    scores: np.ndarray, categories: Sequence[str], *, bins: int = 10, **meta: Any
) -> dict[str, Any]:
    """The reference distribution of ``scores`` (paragraphs x categories): decile edges and shares."""
    scores = np.asarray(scores, dtype=np.float64)
    if scores.ndim != 2 or scores.shape[1] != len(categories) or not len(scores):
        raise ValueError(f"scores must be (paragraphs, {len(categories)}), got {scores.shape}")
    out: dict[str, Any] = {"format": 1, **meta, "paragraphs": int(len(scores)), "categories": {}}
    for k, c in enumerate(categories):
        column = scores[:, k]
        inner = np.unique(np.quantile(column, np.linspace(0, 1, bins + 1)[1:-1]))
        counts = np.bincount(np.searchsorted(inner, column, side="right"), minlength=len(inner) + 1)
        out["categories"][c] = {"edges": [round(float(e), 6) for e in inner],
                                "shares": [round(float(n) / len(column), 6) for n in counts],
                                "mean": round(float(column.mean()), 6)}
    return out


def model_fingerprint(model_dir: str | Path) -> str | None:
    """sha256 of the model's weights file, which ties a reference to the model it was made with."""
    path = Path(model_dir) / "model.safetensors"
    if not path.is_file():
        return None
    digest = hashlib.sha256()
    with open(path, "rb") as f:
        for block in iter(lambda: f.read(1 << 20), b""):
            digest.update(block)
    return digest.hexdigest()


def write_reference(model_dir: str | Path, reference: dict[str, Any]) -> Path:
    """Write ``reference`` into the model folder as :data:`REFERENCE_FILE`."""
    path = Path(model_dir) / REFERENCE_FILE
    path.write_text(json.dumps(reference, indent=1) + "\n", encoding="utf-8")
    return path


def read_reference(model_dir: str | Path, model_version: str | None = None) -> tuple[dict[str, Any] | None, str]:
    """The model folder's reference and ``"ok"``, or None and why it cannot be used."""
    path = Path(model_dir) / REFERENCE_FILE
    if not path.is_file():
        return None, f"no {REFERENCE_FILE} in the model folder (modcls score-reference writes one)"
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, ValueError) as err:
        return None, f"{REFERENCE_FILE} cannot be read: {err}"
    if model_version is not None and data.get("model_version") not in (None, model_version):
        return None, f"{REFERENCE_FILE} was made for model {data.get('model_version')!r}, not {model_version!r}"
    fingerprint = data.get("model_sha256")
    if fingerprint and fingerprint != model_fingerprint(model_dir):
        return None, f"{REFERENCE_FILE} was made with other weights than the model folder's"
    return data, "ok"


def psi(reference: dict[str, Any], values: np.ndarray) -> float:
    """Population stability index of ``values`` against one category's reference bins."""
    edges = np.asarray(reference["edges"], dtype=np.float64)
    expected = np.maximum(np.asarray(reference["shares"], dtype=np.float64), _FLOOR)
    counts = np.bincount(np.searchsorted(edges, values, side="right"), minlength=len(edges) + 1)
    actual = np.maximum(counts / max(len(values), 1), _FLOOR)
    return float(np.sum((actual - expected) * np.log(actual / expected)))


class DriftMonitor:
    """A rolling window of served sensitivity scores, compared with the model's reference on demand.

    Thread-safe: requests add scores while the metrics endpoint reads.
    """

    def __init__(self, categories: Sequence[str], reference: dict[str, Any] | None, reason: str = "ok",
                 window: int = 1000) -> None:
        self.categories = list(categories)
        self.reference = reference
        self.reason = reason if reference is None else "ok"
        self.window = window
        self._scores: deque[list[float]] = deque(maxlen=window)
        self._lock = threading.Lock()

    @classmethod
    def for_model(cls, model_dir: str | Path | None, categories: Sequence[str], model_version: str | None = None,
                  window: int = 1000) -> DriftMonitor:
        if model_dir is None:
            return cls(categories, None, "the model folder is unknown", window)
        reference, reason = read_reference(model_dir, model_version)
        if reference is not None and set(categories) - set(reference.get("categories", {})):
            reference, reason = None, f"{REFERENCE_FILE} lacks some of the model's categories"
        return cls(categories, reference, reason, window)

    @property
    def available(self) -> bool:
        return self.reference is not None

    def add(self, sensitivity: Sequence[dict[str, float]]) -> None:
        """Add paragraphs' sensitivity scores (one mapping category -> score each)."""
        rows = [[float(s.get(c, 0.0)) for c in self.categories] for s in sensitivity]
        with self._lock:
            self._scores.extend(rows)

    def report(self) -> dict[str, Any]:
        """``available``, window size, and per category the PSI and mean score against the reference."""
        with self._lock:
            scores = np.asarray(self._scores, dtype=np.float64).reshape(-1, len(self.categories))
        out: dict[str, Any] = {"available": self.available, "window": int(len(scores)), "window_size": self.window,
                               "min_window": MIN_WINDOW}
        if not self.available:
            return out | {"reason": self.reason}
        out["reference_paragraphs"] = self.reference.get("paragraphs")
        if len(scores) < MIN_WINDOW:
            return out | {"reason": f"fewer than {MIN_WINDOW} paragraphs scored since the model was loaded",
                          "categories": None}
        cats = {}
        for k, c in enumerate(self.categories):
            ref = self.reference["categories"][c]
            cats[c] = {"psi": round(psi(ref, scores[:, k]), 4), "mean": round(float(scores[:, k].mean()), 6),
                       "reference_mean": ref.get("mean")}
        return out | {"categories": cats}


def compute_reference(
    model_dir: str | Path, config: str | Path, *, split: str = "validation", precision: str = "fp32",
    batch_size: int = 32,
) -> dict[str, Any]:
    """Score ``split`` of a training config with the model in ``model_dir``; return its reference.

    Each row is read with its article context where the split gives one, as evaluation does.
    """
    from .evaluation.data import load_split
    from .moderator import Moderator

    moderator = Moderator.from_pretrained(model_dir, precision=precision)
    rows = load_split(config, split).rows
    texts = [r.text for r in rows]
    contexts = [getattr(r, "context", None) for r in rows]
    scores = moderator.predictor.predict(texts, batch_size=batch_size,
                                         contexts=contexts if any(contexts) else None)
    matrix = np.stack([s.sensitivity for s in scores])
    return reference_from_scores(matrix, moderator.categories, model_version=moderator.name,
                                 model_sha256=model_fingerprint(model_dir), split=split, precision=precision)
