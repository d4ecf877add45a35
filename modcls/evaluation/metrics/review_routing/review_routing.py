"""Routing to human review: recall of must-review content, share routed, urgent precision/recall, budget curve.

A local ``evaluate`` module: ``evaluate.load("<this folder>")``. Per paragraph it takes whether it must be
reviewed (1, 0, or -1 unknown), whether it was routed to review (any route but ``allow``), whether it was
routed ``urgent_review``, whether it should have been (1, 0, -1 unknown) and a review score that ranks
paragraphs for review. Unknown references are skipped in the figures that need them; shares are over all rows.

Review-budget curve: paragraphs are sent to review in decreasing score order; at each share of all rows
sent, the recall of the known must-review rows. Tied scores are sent together.
"""

from __future__ import annotations

import datasets
import evaluate
import numpy as np

from modcls.evaluation.bootstrap import bootstrap as _bootstrap
from modcls.evaluation.bootstrap import interval as _interval

_KWARGS = """
Args:
    must_review: 1 must be reviewed, 0 must not, -1 unknown.
    routed: 1 if routed to review (review or urgent_review), else 0.
    review_score: ranking score for the review-budget curve (higher is reviewed first).
    urgent: 1 if routed urgent_review, else 0.
    urgent_reference: 1 should be urgent_review, 0 should not, -1 unknown.
    recall_targets: recalls for which the share of rows to review is reported (default 0.9, 0.95, 0.99).
    curve_points: points of the budget curve on an even grid of shares (default 101; 0: no curve).
    bootstrap, seed, confidence: bootstrap percentile intervals (0 resamples: none).
Returns:
    rows, routed, routed_share, must_review_known, must_review_positives, must_review_recall,
    routed_precision (share of routed rows with a known reference that must be reviewed), urgent_known,
    urgent_positives, urgent_predicted, urgent_precision, urgent_recall, share_at_recall {target: share},
    budget_curve {share, recall}, and with ``bootstrap`` intervals. Undefined figures are None.
"""
_FIGURES = ("routed_share", "must_review_recall", "routed_precision", "urgent_precision", "urgent_recall")


class ReviewRouting(evaluate.Metric):
    """Recall of must-review rows, share routed, urgent precision/recall and the review-budget curve."""

    def _info(self) -> evaluate.MetricInfo:
        return evaluate.MetricInfo(
            description=__doc__,
            citation="",
            inputs_description=_KWARGS,
            features=datasets.Features({
                "must_review": datasets.Value("int32"),
                "routed": datasets.Value("int32"),
                "review_score": datasets.Value("float64"),
                "urgent": datasets.Value("int32"),
                "urgent_reference": datasets.Value("int32"),
            }),
        )

    def _compute(
        self,
        must_review: np.ndarray,
        routed: np.ndarray,
        review_score: np.ndarray,
        urgent: np.ndarray,
        urgent_reference: np.ndarray,
        recall_targets: tuple[float, ...] = (0.9, 0.95, 0.99),
        curve_points: int = 101,
        bootstrap: int = 0,
        seed: int = 0,
        confidence: float = 0.95,
    ) -> dict:
        cols = _columns(must_review, routed, urgent, urgent_reference)
        n = len(cols["routed"])
        if not n:
            return {"rows": 0}
        point = {k: float(v[0]) if np.isfinite(v[0]) else None for k, v in _figures(cols, np.ones((1, n))).items()}
        out = {
            "rows": n,
            "routed": int(cols["routed"].sum()),
            "routed_share": point["routed_share"],
            "must_review_known": int(cols["mr_known"].sum()),
            "must_review_positives": int(cols["mr_pos"].sum()),
            "must_review_recall": point["must_review_recall"],
            "routed_precision": point["routed_precision"],
            "urgent_known": int(cols["ur_known"].sum()),
            "urgent_positives": int(cols["ur_pos"].sum()),
            "urgent_predicted": int((cols["urgent"] * cols["ur_known"]).sum()),
            "urgent_precision": point["urgent_precision"],
            "urgent_recall": point["urgent_recall"],
        }
        shares, recalls = _budget(np.asarray(review_score, dtype=np.float64), cols["mr_pos"])
        out["share_at_recall"] = {str(t): _share_at(shares, recalls, t) for t in recall_targets}
        if curve_points > 0 and recalls is not None:
            grid = np.linspace(0.0, 1.0, curve_points)
            # the most recall reachable without sending more than each share of rows
            idx = np.searchsorted(shares, grid + 1e-12, side="right") - 1
            out["budget_curve"] = {"share": [round(float(g), 6) for g in grid],
                                   "recall": [round(float(recalls[i]), 6) for i in idx]}
        if bootstrap > 0:
            stats = _bootstrap(n, bootstrap, seed, lambda w: _figures(cols, w))
            out["intervals"] = {m: _interval(stats[m], confidence) for m in _FIGURES}
        return out


def _columns(must_review: np.ndarray, routed: np.ndarray, urgent: np.ndarray,
             urgent_reference: np.ndarray) -> dict[str, np.ndarray]:
    mr = np.asarray(must_review, dtype=np.int64)
    ur = np.asarray(urgent_reference, dtype=np.int64)
    return {
        "routed": (np.asarray(routed) > 0).astype(np.float64),
        "urgent": (np.asarray(urgent) > 0).astype(np.float64),
        "mr_known": (mr >= 0).astype(np.float64),
        "mr_pos": (mr == 1).astype(np.float64),
        "ur_known": (ur >= 0).astype(np.float64),
        "ur_pos": (ur == 1).astype(np.float64),
    }


def _figures(c: dict[str, np.ndarray], w: np.ndarray) -> dict[str, np.ndarray]:
    """Figures per weighting (b, n) of the rows; NaN where undefined."""
    def ratio(num: np.ndarray, den: np.ndarray) -> np.ndarray:
        a, b = w @ num, w @ den
        with np.errstate(divide="ignore", invalid="ignore"):
            return np.where(b > 0, a / b, np.nan)

    return {
        "routed_share": ratio(c["routed"], np.ones_like(c["routed"])),
        "must_review_recall": ratio(c["routed"] * c["mr_pos"], c["mr_pos"]),
        "routed_precision": ratio(c["routed"] * c["mr_pos"], c["routed"] * c["mr_known"]),
        "urgent_precision": ratio(c["urgent"] * c["ur_pos"], c["urgent"] * c["ur_known"]),
        "urgent_recall": ratio(c["urgent"] * c["ur_pos"], c["ur_pos"]),
    }


def _budget(scores: np.ndarray, positive: np.ndarray) -> tuple[np.ndarray, np.ndarray | None]:
    """Shares of rows sent (0 first, then at the end of each group of tied scores) and the recall at each."""
    total = positive.sum()
    if total == 0:
        return np.zeros(1), None
    order = np.argsort(-scores, kind="mergesort")
    s = scores[order]
    ends = np.r_[np.flatnonzero(s[1:] != s[:-1]), len(s) - 1]
    caught = np.cumsum(positive[order])[ends]
    return np.r_[0.0, (ends + 1) / len(s)], np.r_[0.0, caught / total]


def _share_at(shares: np.ndarray, recalls: np.ndarray | None, target: float) -> float | None:
    if recalls is None:
        return None
    return float(shares[np.argmax(recalls >= target - 1e-12)])
