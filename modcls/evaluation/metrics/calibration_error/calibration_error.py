"""Expected calibration error of probabilities against 0/1 outcomes, with the reliability-diagram bins.

A local ``evaluate`` module: ``evaluate.load("<this folder>")``. Outcomes of -1 are unknown and skipped.
Bins are equal-width on [0, 1]: bin i holds probabilities in [i/B, (i+1)/B), the last bin includes 1.
ECE = sum over bins of (rows in bin / rows) * |mean probability - observed frequency|; MCE is the largest
such gap over non-empty bins; Brier is the mean squared error. For a top-label (multiclass) ECE pass the
highest class probability and whether that class was right.
"""

from __future__ import annotations

import datasets
import evaluate
import numpy as np

from modcls.evaluation.bootstrap import bootstrap as _bootstrap
from modcls.evaluation.bootstrap import interval as _interval

_KWARGS = """
Args:
    probabilities: predicted probability of the outcome, per row.
    references: observed outcome 1 or 0, -1 unknown (skipped).
    n_bins: number of equal-width bins (default 10).
    bootstrap, seed, confidence: bootstrap percentile interval of the ECE (0 resamples: none).
Returns:
    ece, mce, brier, count, bins [{lower, upper, count, mean_probability, frequency}], and with
    ``bootstrap`` intervals {ece: [low, high]}. No known row: {"count": 0}.
"""


class CalibrationError(evaluate.Metric):
    """Expected and maximum calibration error, Brier score and reliability bins."""

    def _info(self) -> evaluate.MetricInfo:
        return evaluate.MetricInfo(
            description=__doc__,
            citation="",
            inputs_description=_KWARGS,
            features=datasets.Features({"probabilities": datasets.Value("float64"),
                                        "references": datasets.Value("int32")}),
        )

    def _compute(
        self,
        probabilities: np.ndarray,
        references: np.ndarray,
        n_bins: int = 10,
        bootstrap: int = 0,
        seed: int = 0,
        confidence: float = 0.95,
    ) -> dict:
        p = np.asarray(probabilities, dtype=np.float64)
        y = np.asarray(references, dtype=np.int64)
        known = y >= 0
        p, y = p[known], y[known].astype(np.float64)
        if not len(y):
            return {"count": 0}
        bins = np.clip(np.floor(p * n_bins).astype(np.int64), 0, n_bins - 1)
        count, sum_p, sum_y = _bin_sums(bins, p, y, n_bins, np.ones((1, len(y))))
        gaps = np.abs(sum_p[0] - sum_y[0])
        filled = count[0] > 0
        out = {
            "ece": float(gaps.sum() / len(y)),
            "mce": float((gaps[filled] / count[0][filled]).max()),
            "brier": float(((p - y) ** 2).mean()),
            "count": int(len(y)),
            "bins": [
                {"lower": i / n_bins, "upper": (i + 1) / n_bins, "count": int(count[0, i]),
                 "mean_probability": float(sum_p[0, i] / count[0, i]) if filled[i] else None,
                 "frequency": float(sum_y[0, i] / count[0, i]) if filled[i] else None}
                for i in range(n_bins)
            ],
        }
        if bootstrap > 0:
            def stat(w: np.ndarray) -> dict[str, np.ndarray]:
                _, sp, sy = _bin_sums(bins, p, y, n_bins, w)
                return {"ece": np.abs(sp - sy).sum(1) / w.sum(1)}

            out["intervals"] = {"ece": _interval(_bootstrap(len(y), bootstrap, seed, stat)["ece"], confidence)}
        return out


def _bin_sums(bins: np.ndarray, p: np.ndarray, y: np.ndarray, n_bins: int,
              w: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Per weighting (b, n): weighted count, sum of probabilities and sum of outcomes in each bin."""
    onehot = np.zeros((len(bins), n_bins))
    onehot[np.arange(len(bins)), bins] = 1.0
    return w @ onehot, (w * p) @ onehot, (w * y) @ onehot
