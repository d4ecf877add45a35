"""Bootstrap helpers shared by the metric modules: resamples as row-count weights, percentile intervals."""

from __future__ import annotations

from collections.abc import Callable

import numpy as np

_CHUNK = 200


def bootstrap(n: int, resamples: int, seed: int,
              stat: Callable[[np.ndarray], dict[str, np.ndarray]]) -> dict[str, np.ndarray]:
    """``stat`` on ``resamples`` resamples of ``n`` rows (drawn with replacement), as row-count weights."""
    rng = np.random.default_rng(seed)
    parts: list[dict[str, np.ndarray]] = []
    for start in range(0, resamples, _CHUNK):
        b = min(_CHUNK, resamples - start)
        draws = rng.integers(0, n, size=(b, n)) + n * np.arange(b)[:, None]
        weights = np.bincount(draws.ravel(), minlength=b * n).reshape(b, n).astype(np.float64)
        parts.append(stat(weights))
    return {key: np.concatenate([p[key] for p in parts]) for key in parts[0]}


def interval(values: np.ndarray, confidence: float) -> list[float] | None:
    """Percentile interval of the finite ``values`` (None when there are none)."""
    values = values[np.isfinite(values)]
    if not len(values):
        return None
    tail = (1 - confidence) / 2 * 100
    low, high = np.percentile(values, [tail, 100 - tail])
    return [float(low), float(high)]
