"""Single-label topic classification: accuracy, macro/micro-F1, per-class figures, confusion, bootstrap CIs.

A local ``evaluate`` module: ``evaluate.load("<this folder>")``. References of -1 are unknown and skipped.
Averages run over the classes present in the known references (as scikit-learn with ``labels=`` those
classes): a prediction of a class absent from the references is an error of the gold class (a false
negative there) but no false positive of a class with no support.
"""

from __future__ import annotations

import datasets
import evaluate
import numpy as np

from modcls.evaluation.bootstrap import bootstrap as _bootstrap
from modcls.evaluation.bootstrap import interval as _interval

_DESCRIPTION = __doc__
_KWARGS = """
Args:
    predictions: predicted class index per row.
    references: gold class index per row, -1 when unknown (the row is skipped).
    num_labels: number of classes (default: 1 + the largest index seen).
    label_names: class names, used as keys of ``per_class`` (default: the indices as strings).
    bootstrap: number of bootstrap resamples of the known rows for percentile intervals (0: none).
    seed: seed of the resampling (results are deterministic for a seed).
    confidence: interval coverage (default 0.95).
Returns:
    support, accuracy, macro_f1, micro_f1, per_class {name: precision, recall, f1, support} (classes with
    support only), confusion_matrix (rows gold, columns predicted, all classes), and with ``bootstrap``:
    intervals {accuracy, macro_f1, micro_f1: [low, high], per_class {name: {precision, recall, f1}}}.
"""


class TopicClassification(evaluate.Metric):
    """Accuracy, macro/micro-F1, per-class precision/recall/F1/support, confusion matrix, bootstrap CIs."""

    def _info(self) -> evaluate.MetricInfo:
        return evaluate.MetricInfo(
            description=_DESCRIPTION,
            citation="",
            inputs_description=_KWARGS,
            features=datasets.Features({"predictions": datasets.Value("int32"),
                                        "references": datasets.Value("int32")}),
        )

    def _compute(
        self,
        predictions: np.ndarray,
        references: np.ndarray,
        num_labels: int | None = None,
        label_names: list[str] | None = None,
        bootstrap: int = 0,
        seed: int = 0,
        confidence: float = 0.95,
    ) -> dict:
        pred = np.asarray(predictions, dtype=np.int64)
        gold = np.asarray(references, dtype=np.int64)
        known = gold >= 0
        pred, gold = pred[known], gold[known]
        if not len(gold):
            return {"support": 0}
        k = num_labels or (len(label_names) if label_names else int(max(pred.max(), gold.max())) + 1)
        names = list(label_names) if label_names else [str(i) for i in range(k)]
        cells = gold * k + pred
        confusion = np.bincount(cells, minlength=k * k).reshape(k, k)
        point = _figures(confusion[None].astype(np.float64))
        present = np.flatnonzero(confusion.sum(1) > 0)
        out = {
            "support": int(len(gold)),
            "accuracy": float(point["accuracy"][0]),
            "macro_f1": float(point["macro_f1"][0]),
            "micro_f1": float(point["micro_f1"][0]),
            "per_class": {
                names[c]: {"precision": float(point["precision"][0, c]), "recall": float(point["recall"][0, c]),
                           "f1": float(point["f1"][0, c]), "support": int(confusion[c].sum())}
                for c in present
            },
            "confusion_matrix": confusion.tolist(),
        }
        if bootstrap > 0:
            stats = _bootstrap(len(gold), bootstrap, seed, lambda w: _figures(_weighted_confusion(cells, k, w)))
            out["intervals"] = {
                **{m: _interval(stats[m], confidence) for m in ("accuracy", "macro_f1", "micro_f1")},
                "per_class": {names[c]: {m: _interval(stats[m][:, c], confidence)
                                         for m in ("precision", "recall", "f1")} for c in present},
            }
        return out


def _weighted_confusion(cells: np.ndarray, k: int, weights: np.ndarray) -> np.ndarray:
    """Confusion matrices (b, k, k) of ``b`` resamples given as row weights (b, n)."""
    order = np.argsort(cells, kind="stable")
    values, starts = np.unique(cells[order], return_index=True)
    out = np.zeros((weights.shape[0], k * k))
    out[:, values] = np.add.reduceat(weights[:, order], starts, axis=1)
    return out.reshape(-1, k, k)


def _figures(confusion: np.ndarray) -> dict[str, np.ndarray]:
    """Figures of a stack of confusion matrices (b, k, k); classes absent from a matrix's gold are NaN."""
    tp = np.diagonal(confusion, axis1=1, axis2=2)
    gold, pred = confusion.sum(2), confusion.sum(1)
    present = gold > 0
    with np.errstate(divide="ignore", invalid="ignore"):
        precision = np.where(pred > 0, tp / pred, 0.0)
        recall = np.where(present, tp / gold, np.nan)
        f1 = np.where(present, np.where(pred + gold > 0, 2 * tp / (pred + gold), 0.0), np.nan)
        macro = np.nanmean(f1, axis=1)
        tp_sum = np.where(present, tp, 0).sum(1)
        micro = 2 * tp_sum / (np.where(present, pred, 0).sum(1) + gold.sum(1))
        accuracy = tp.sum(1) / gold.sum(1)
    return {"accuracy": accuracy, "macro_f1": macro, "micro_f1": micro,
            "precision": np.where(present, precision, np.nan), "recall": recall, "f1": f1}
