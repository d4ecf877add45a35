"""Core figures on labelled rows with partial labels: unknown labels are skipped, never counted as 0."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import numpy as np


def topic_figures(probs: np.ndarray, gold: Sequence[str | None], topics: Sequence[str]) -> dict[str, Any]:
    """Accuracy, macro/micro-F1 and per-class precision/recall/F1/support on rows with a known topic."""
    from sklearn.metrics import f1_score, precision_recall_fscore_support

    known = [i for i, g in enumerate(gold) if g is not None]
    if not known:
        return {"support": 0}
    index = {t: k for k, t in enumerate(topics)}
    y = np.array([index[gold[i]] for i in known])
    p = probs[known].argmax(1)
    labels = sorted(set(y.tolist()))
    prec, rec, f1, sup = precision_recall_fscore_support(y, p, labels=labels, zero_division=0)
    return {
        "support": len(known),
        "accuracy": float((y == p).mean()),
        "macro_f1": float(f1_score(y, p, labels=labels, average="macro", zero_division=0)),
        "micro_f1": float(f1_score(y, p, labels=labels, average="micro", zero_division=0)),
        "per_class": {
            topics[c]: {"precision": float(a), "recall": float(b), "f1": float(d), "support": int(s)}
            for c, a, b, d, s in zip(labels, prec, rec, f1, sup)
        },
    }


def category_figures(
    scores: np.ndarray,
    gold: Sequence[dict[str, int]],
    categories: Sequence[str],
    thresholds: dict[str, float],
) -> dict[str, Any]:
    """Per category: precision/recall/F1 at the threshold, average precision, positives and rows known."""
    from sklearn.metrics import average_precision_score

    out: dict[str, Any] = {}
    for k, c in enumerate(categories):
        known = [i for i, g in enumerate(gold) if c in g]
        if not known:
            continue
        y = np.array([gold[i][c] for i in known])
        s = scores[known, k]
        pred = s >= thresholds.get(c, 0.5)
        tp = int((pred & (y == 1)).sum())
        fp = int((pred & (y == 0)).sum())
        fn = int((~pred & (y == 1)).sum())
        precision = tp / (tp + fp) if tp + fp else 0.0
        recall = tp / (tp + fn) if tp + fn else 0.0
        f1 = 2 * precision * recall / (precision + recall) if precision + recall else 0.0
        out[c] = {
            "precision": precision,
            "recall": recall,
            "f1": f1,
            "average_precision": float(average_precision_score(y, s)) if 0 < y.sum() < len(y) else None,
            "positives": int(y.sum()),
            "support": len(known),
            "threshold": float(thresholds.get(c, 0.5)),
        }
    return out
