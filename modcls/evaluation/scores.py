"""Figures on labelled rows with partial labels: unknown labels are skipped, never counted as 0.

Every figure is computed by one of the local ``evaluate`` modules (:mod:`.metric_modules`), so training
(``metrics.json``) and ``modcls evaluate`` (``report.json``) give the same numbers on the same rows.
With ``details`` the figures gain what a report needs: bootstrap intervals, the confusion matrix and curves.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import numpy as np

from .metric_modules import compute

#: Settings of the detailed figures: bootstrap resamples, seed, interval coverage, curve points, ECE bins.
BOOTSTRAP = 1000
SEED = 0
CONFIDENCE = 0.95
CURVE_POINTS = 100
ECE_BINS = 10


def topic_figures(
    probs: np.ndarray,
    gold: Sequence[str | None],
    topics: Sequence[str],
    *,
    details: bool = False,
    bootstrap: int = BOOTSTRAP,
    seed: int = SEED,
) -> dict[str, Any]:
    """Accuracy, macro/micro-F1 and per-class precision/recall/F1/support on rows with a known topic.

    With ``details``: ``confusion_matrix`` (rows gold, columns predicted, all topics) and ``intervals``.
    """
    index = {t: k for k, t in enumerate(topics)}
    references = [index[g] if g is not None else -1 for g in gold]
    predictions = np.asarray(probs).argmax(1) if len(references) else np.zeros(0, dtype=int)
    out = compute("topic_classification", predictions=predictions, references=references,
                  num_labels=len(topics), label_names=list(topics), bootstrap=bootstrap if details else 0,
                  seed=seed, confidence=CONFIDENCE)
    if not details:
        out.pop("confusion_matrix", None)
    return out


def category_figures(
    scores: np.ndarray,
    gold: Sequence[dict[str, int]],
    categories: Sequence[str],
    thresholds: dict[str, float],
    *,
    details: bool = False,
    bootstrap: int = BOOTSTRAP,
    seed: int = SEED,
) -> dict[str, Any]:
    """Per category with known rows: precision/recall/F1 at the threshold, average precision, positives, support.

    With ``details``: ``pr_curve`` and ``intervals`` per category.
    """
    out: dict[str, Any] = {}
    for k, c in enumerate(categories):
        references = [g.get(c, -1) for g in gold]
        if all(r < 0 for r in references):
            continue
        out[c] = compute("sensitivity_detection", predictions=np.asarray(scores)[:, k], references=references,
                         threshold=float(thresholds.get(c, 0.5)), bootstrap=bootstrap if details else 0,
                         seed=seed, confidence=CONFIDENCE, curve_points=CURVE_POINTS if details else 0)
    return out


def routing_figures(
    routes: Sequence[str],
    must_review: Sequence[int],
    urgent_reference: Sequence[int],
    review_score: np.ndarray,
    *,
    bootstrap: int = BOOTSTRAP,
    seed: int = SEED,
) -> dict[str, Any]:
    """Must-review recall, share routed, ``urgent_review`` precision/recall and the review-budget curve.

    ``must_review`` and ``urgent_reference`` hold 1, 0 or -1 (unknown) per row; see :mod:`.references`.
    """
    out = compute("review_routing", must_review=list(must_review), routed=[int(r != "allow") for r in routes],
                  review_score=np.asarray(review_score, dtype=np.float64),
                  urgent=[int(r == "urgent_review") for r in routes], urgent_reference=list(urgent_reference),
                  bootstrap=bootstrap, seed=seed, confidence=CONFIDENCE)
    out["routes"] = {r: sum(x == r for x in routes) for r in ("allow", "review", "urgent_review")}
    return out


def calibration_figures(
    topic_probs: np.ndarray,
    topic_gold: Sequence[str | None],
    sens_scores: np.ndarray,
    sens_gold: Sequence[dict[str, int]],
    topics: Sequence[str],
    categories: Sequence[str],
    *,
    bootstrap: int = BOOTSTRAP,
    seed: int = SEED,
) -> dict[str, Any]:
    """Expected calibration error per head, with reliability bins.

    Topic head: top-label ECE (highest probability against whether that topic is right) on rows with a
    known topic. Sensitivity head: every known (row, category) score against its label, pooled, and
    each category on its own.
    """
    options = {"n_bins": ECE_BINS, "bootstrap": bootstrap, "seed": seed, "confidence": CONFIDENCE}
    index = {t: k for k, t in enumerate(topics)}
    probs = np.asarray(topic_probs)
    correct = [int(probs[i].argmax() == index[g]) if g is not None else -1 for i, g in enumerate(topic_gold)]
    confidence = probs.max(1) if len(probs) else np.zeros(0)
    out: dict[str, Any] = {"topic": compute("calibration_error", probabilities=confidence, references=correct,
                                            **options)}
    scores = np.asarray(sens_scores)
    labels = np.array([[g.get(c, -1) for c in categories] for g in sens_gold], dtype=int).reshape(-1, len(categories))
    pooled = compute("calibration_error", probabilities=scores.reshape(-1), references=labels.reshape(-1), **options)
    pooled["per_category"] = {
        c: {key: value for key, value in result.items() if key != "bins"}
        for k, c in enumerate(categories)
        if (result := compute("calibration_error", probabilities=scores[:, k], references=labels[:, k],
                              **{**options, "bootstrap": 0}))["count"]
    }
    out["sensitivity"] = pooled
    return out
