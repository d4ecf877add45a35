"""One binary sensitivity category: precision/recall/F1 at a threshold, average precision, PR curve, CIs.

A local ``evaluate`` module: ``evaluate.load("<this folder>")``. References of -1 are unknown and skipped
(never counted as negatives). A row is flagged when its score is at or above the threshold. Precision
(recall) with no flagged (positive) row is 0. Average precision is the step-wise area under the PR curve
(scikit-learn's ``average_precision_score``), None when the known rows are all positive or all negative.
"""

from __future__ import annotations

import datasets
import evaluate
import numpy as np

from modcls.evaluation.bootstrap import bootstrap as _bootstrap
from modcls.evaluation.bootstrap import interval as _interval

_KWARGS = """
Args:
    predictions: score per row (higher means more likely positive).
    references: 1 positive, 0 negative, -1 unknown (skipped).
    threshold: flagging threshold (default 0.5).
    bootstrap: number of bootstrap resamples for percentile intervals (0: none).
    seed: seed of the resampling; confidence: interval coverage (default 0.95).
    curve_points: most points kept of the precision-recall curve (0: no curve).
Returns:
    precision, recall, f1, average_precision, positives, support, threshold; with ``curve_points`` a
    pr_curve {precision, recall, thresholds}; with ``bootstrap`` intervals {precision, recall, f1,
    average_precision: [low, high]}. No known row: {"support": 0}.
"""


class SensitivityDetection(evaluate.Metric):
    """Binary detection figures at a threshold, average precision and PR curve, with bootstrap CIs."""

    def _info(self) -> evaluate.MetricInfo:
        return evaluate.MetricInfo(
            description=__doc__,
            citation="",
            inputs_description=_KWARGS,
            features=datasets.Features({"predictions": datasets.Value("float64"),
                                        "references": datasets.Value("int32")}),
        )

    def _compute(
        self,
        predictions: np.ndarray,
        references: np.ndarray,
        threshold: float = 0.5,
        bootstrap: int = 0,
        seed: int = 0,
        confidence: float = 0.95,
        curve_points: int = 0,
    ) -> dict:
        scores = np.asarray(predictions, dtype=np.float64)
        gold = np.asarray(references, dtype=np.int64)
        known = gold >= 0
        scores, y = scores[known], gold[known].astype(np.float64)
        if not len(y):
            return {"support": 0}
        flagged = (scores >= threshold).astype(np.float64)
        point = {k: np.nan_to_num(v, nan=0.0) for k, v in _at_threshold(flagged, y, np.ones((1, len(y)))).items()}
        positives = int(y.sum())
        ap = _average_precision(scores, y, np.ones((1, len(y))))[0]
        out = {
            "precision": float(point["precision"][0]),
            "recall": float(point["recall"][0]),
            "f1": float(point["f1"][0]),
            "average_precision": float(ap) if 0 < positives < len(y) else None,
            "positives": positives,
            "support": int(len(y)),
            "threshold": float(threshold),
        }
        if curve_points > 0 and positives:
            out["pr_curve"] = _curve(scores, y, curve_points)
        if bootstrap > 0:
            def stat(w: np.ndarray) -> dict[str, np.ndarray]:
                return _at_threshold(flagged, y, w) | {"average_precision": _average_precision(scores, y, w)}

            stats = _bootstrap(len(y), bootstrap, seed, stat)
            out["intervals"] = {m: _interval(stats[m], confidence)
                                for m in ("precision", "recall", "f1", "average_precision")}
        return out


def _at_threshold(flagged: np.ndarray, y: np.ndarray, w: np.ndarray) -> dict[str, np.ndarray]:
    """Precision/recall/F1 per weighting (b, n); recall and F1 are NaN for a resample with no positive."""
    tp = w @ (flagged * y)
    fp = w @ (flagged * (1 - y))
    pos = w @ y
    with np.errstate(divide="ignore", invalid="ignore"):
        precision = np.where(tp + fp > 0, tp / (tp + fp), 0.0)
        recall = np.where(pos > 0, tp / pos, np.nan)
        f1 = np.where(pos > 0, np.where(precision + recall > 0, 2 * precision * recall / (precision + recall), 0.0),
                      np.nan)
    return {"precision": precision, "recall": recall, "f1": f1}


def _average_precision(scores: np.ndarray, y: np.ndarray, w: np.ndarray) -> np.ndarray:
    """Average precision per weighting (b, n); NaN where a weighting has no positive or no negative."""
    order = np.argsort(-scores, kind="mergesort")
    s, yy, ww = scores[order], y[order], w[:, order]
    ends = np.r_[np.flatnonzero(s[1:] != s[:-1]), len(s) - 1]
    tps = np.cumsum(ww * yy, axis=1)[:, ends]
    fps = np.cumsum(ww * (1 - yy), axis=1)[:, ends]
    pos, neg = tps[:, -1:], fps[:, -1:]
    with np.errstate(divide="ignore", invalid="ignore"):
        precision = np.where(tps + fps > 0, tps / (tps + fps), 0.0)
        recall = tps / pos
        ap = (np.diff(recall, axis=1, prepend=0.0) * precision).sum(1)
    return np.where((pos[:, 0] > 0) & (neg[:, 0] > 0), ap, np.nan)


def _curve(scores: np.ndarray, y: np.ndarray, points: int) -> dict[str, list[float]]:
    """Precision and recall at each distinct score (descending), thinned to at most ``points``."""
    order = np.argsort(-scores, kind="mergesort")
    s, yy = scores[order], y[order]
    ends = np.r_[np.flatnonzero(s[1:] != s[:-1]), len(s) - 1]
    tps = np.cumsum(yy)[ends]
    fps = np.cumsum(1 - yy)[ends]
    keep = np.unique(np.linspace(0, len(ends) - 1, min(points, len(ends))).round().astype(int))
    return {
        "precision": [round(float(v), 6) for v in (tps / (tps + fps))[keep]],
        "recall": [round(float(v), 6) for v in (tps / tps[-1])[keep]],
        "thresholds": [round(float(v), 6) for v in s[ends][keep]],
    }
