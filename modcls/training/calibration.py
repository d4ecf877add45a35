"""Post-training calibration on validation rows: a temperature per head, a threshold per category.

Threshold rule: child_sexual_abuse takes the highest threshold whose validation recall is at least
``csa_min_recall`` (0.95 by default) — missing such content costs most; every other category takes
the threshold of best F1. A category with no validation positive gets 0.5.

Too few positives: a category with fewer validation positives than ``min_calibration_positives`` (training
config, default 5) is not fitted. A run continuing from a model (``--init-from``) keeps that model's
threshold and urgent threshold for it, and its sensitivity temperature (the thresholds were set on scores
at that temperature); a run from the base refuses to start. ``min_calibration_positives: 0`` fits anyway.

Urgent tier: a category given a minimum precision (child_sexual_abuse: 0.85 by default) also gets an upper
threshold, the lowest one whose validation precision reaches it (never below the category's threshold).
Between the two a paragraph goes to review; at or above the upper one, to the urgent queue.
"""

from __future__ import annotations

import numpy as np

_GRID = np.exp(np.linspace(np.log(0.25), np.log(8.0), 121))


def _log_softmax(z: np.ndarray) -> np.ndarray:
    z = z - z.max(axis=1, keepdims=True)
    return z - np.log(np.exp(z).sum(axis=1, keepdims=True))


def fit_topic_temperature(logits: np.ndarray, labels: np.ndarray) -> float:
    """Temperature minimising the negative log-likelihood of ``labels`` (grid search, deterministic)."""
    if len(labels) == 0:
        return 1.0
    nll = [-_log_softmax(logits / t)[np.arange(len(labels)), labels].mean() for t in _GRID]
    return float(_GRID[int(np.argmin(nll))])


def fit_sigmoid_temperature(logits: np.ndarray, targets: np.ndarray, mask: np.ndarray) -> float:
    """One temperature for all sigmoid outputs, minimising masked binary cross-entropy."""
    if mask.sum() == 0:
        return 1.0
    losses = []
    for t in _GRID:
        z = logits / t
        bce = np.logaddexp(0, z) - targets * z
        losses.append((bce * mask).sum() / mask.sum())
    return float(_GRID[int(np.argmin(losses))])


def recall_threshold(scores: np.ndarray, targets: np.ndarray, min_recall: float) -> float:
    """Highest threshold t such that recall of ``scores >= t`` is at least ``min_recall``."""
    pos = np.sort(scores[targets == 1])[::-1]
    if len(pos) == 0:
        return 0.5
    k = int(np.ceil(min_recall * len(pos)))
    return float(pos[k - 1])


def precision_threshold(scores: np.ndarray, targets: np.ndarray, min_precision: float, floor: float) -> float:
    """Lowest threshold >= ``floor`` whose precision is at least ``min_precision`` (else the most precise one)."""
    order = np.argsort(-scores, kind="stable")
    s, y = scores[order], targets[order]
    if y.sum() == 0:
        return max(0.5, floor)
    precision = np.cumsum(y) / np.arange(1, len(y) + 1)
    valid = np.r_[s[:-1] > s[1:], True] & (s >= floor)
    if not valid.any():
        return floor
    ok = np.flatnonzero(valid & (precision >= min_precision))
    k = int(ok[-1]) if len(ok) else int(np.argmax(np.where(valid, precision, -1)))
    return float(s[k])


def f1_threshold(scores: np.ndarray, targets: np.ndarray) -> float:
    """Threshold of best F1 (midpoint between neighbouring scores, ties to the higher threshold)."""
    if targets.sum() == 0:
        return 0.5
    order = np.argsort(-scores, kind="stable")
    s, y = scores[order], targets[order]
    tp = np.cumsum(y)
    fp = np.cumsum(1 - y)
    f1 = 2 * tp / (tp + fp + y.sum())
    # only cut between distinct scores
    valid = np.r_[s[:-1] > s[1:], True]
    best = int(np.argmax(np.where(valid, f1, -1)))
    nxt = s[best + 1] if best + 1 < len(s) else 0.0
    return float((s[best] + nxt) / 2)


def fit_thresholds(
    scores: np.ndarray, targets: np.ndarray, mask: np.ndarray, categories: list[str], min_recall: float
) -> dict[str, float]:
    """A threshold per category under the module's rule."""
    out = {}
    for k, category in enumerate(categories):
        known = mask[:, k] > 0
        s, y = scores[known, k], targets[known, k]
        cut = recall_threshold(s, y, min_recall) if category == "child_sexual_abuse" else f1_threshold(s, y)
        out[category] = _round_down(cut)
    return out


def fit_urgent_thresholds(
    scores: np.ndarray, targets: np.ndarray, mask: np.ndarray, categories: list[str],
    thresholds: dict[str, float], min_precision: dict[str, float],
) -> dict[str, float]:
    """An upper threshold for each category named in ``min_precision`` (see the module's rule)."""
    out = {}
    for k, category in enumerate(categories):
        if category not in min_precision:
            continue
        known = mask[:, k] > 0
        cut = precision_threshold(scores[known, k], targets[known, k], min_precision[category], thresholds[category])
        out[category] = _round_down(max(cut, thresholds[category]))
    return out


def _round_down(cut: float) -> float:
    """Stored to 6 decimals, rounded down: a threshold never rises above the score it was set on."""
    return float(np.floor(cut * 1e6) / 1e6)


def count_positives(targets: np.ndarray, mask: np.ndarray, categories: list[str]) -> dict[str, int]:
    """Known positive rows per category."""
    return {c: int(((targets[:, k] == 1) & (mask[:, k] > 0)).sum()) for k, c in enumerate(categories)}
