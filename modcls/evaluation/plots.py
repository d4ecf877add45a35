"""PNG figures of a report, drawn with matplotlib's Agg canvas from the report's own figures."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

import numpy as np

#: Line colours per system, in order.
COLOURS = ("#1f5fa8", "#d1621b", "#2c8c3c", "#8e3ca8")
DPI = 110


def _figure(width: float, height: float) -> Any:
    from matplotlib.figure import Figure

    return Figure(figsize=(width, height), layout="constrained")


def _save(fig: Any, path: Path) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    fig.savefig(path, dpi=DPI)
    return path


def confusion_png(matrix: Sequence[Sequence[int]], labels: Sequence[str], title: str, path: Path) -> Path:
    """Confusion matrix, rows gold and columns predicted; colour is the share of the gold row, text the count."""
    counts = np.asarray(matrix, dtype=float)
    rows = counts.sum(1, keepdims=True)
    share = np.divide(counts, rows, out=np.zeros_like(counts), where=rows > 0)
    k = len(labels)
    fig = _figure(0.5 * k + 3.2, 0.45 * k + 2.4)
    ax = fig.subplots()
    image = ax.imshow(share, cmap="Blues", vmin=0, vmax=1)
    for i in range(k):
        for j in range(k):
            if counts[i, j]:
                ax.text(j, i, f"{int(counts[i, j])}", ha="center", va="center", fontsize=8,
                        color="white" if share[i, j] > 0.55 else "black")
    gold_labels = [f"{name} ({int(n)})" for name, n in zip(labels, rows[:, 0], strict=True)]
    ax.set_xticks(range(k), labels, rotation=55, ha="right", rotation_mode="anchor", fontsize=9)
    ax.set_yticks(range(k), gold_labels, fontsize=9)
    ax.set_xlabel("predicted topic", fontsize=10)
    ax.set_ylabel("gold topic (rows)", fontsize=10)
    ax.set_title(title, fontsize=11)
    fig.colorbar(image, ax=ax, shrink=0.7, label="share of the gold row")
    return _save(fig, path)


def pr_png(systems: Mapping[str, Mapping[str, Any]], categories: Sequence[str], title: str, path: Path) -> Path:
    """Precision-recall curve per labelled category (one panel each), one line per system, dot at the threshold."""
    shown = [c for c in categories if any(c in figures for figures in systems.values())]
    cols = min(4, len(shown))
    rows = int(np.ceil(len(shown) / cols))
    fig = _figure(4.0 * cols + 0.4, 3.6 * rows + 0.6)
    axes = np.atleast_1d(fig.subplots(rows, cols, squeeze=False)).ravel()
    for ax, category in zip(axes, shown, strict=False):
        counts = next(f for f in systems.values() if category in f)[category]
        for colour, (name, figures) in zip(COLOURS, systems.items(), strict=False):
            f = figures.get(category)
            if not f or "pr_curve" not in f:
                continue
            curve = f["pr_curve"]
            ax.step(curve["recall"], curve["precision"], where="post", color=colour, lw=1.6,
                    label=f"{name} AP {_fmt(f['average_precision'])}")
            ax.plot([f["recall"]], [f["precision"]], "o", color=colour, ms=6)
        ax.set_title(f"{category}\n{counts['positives']} positives / {counts['support']} rows", fontsize=10)
        ax.set_xlim(-0.02, 1.02)
        ax.set_ylim(-0.02, 1.05)
        ax.set_xlabel("recall", fontsize=9)
        ax.set_ylabel("precision", fontsize=9)
        ax.grid(alpha=0.3)
        if counts["positives"]:
            ax.legend(fontsize=8, loc="lower left")
        else:
            ax.text(0.5, 0.5, "no positive row", ha="center", va="center", fontsize=9, transform=ax.transAxes)
    for ax in axes[len(shown):]:
        ax.axis("off")
    fig.suptitle(f"{title}\nline: every threshold; dot: the system's threshold", fontsize=11)
    return _save(fig, path)


def reliability_png(systems: Mapping[str, Mapping[str, Any]], title: str, path: Path) -> Path:
    """Reliability diagrams of the topic head (top label) and the sensitivity head (all known scores)."""
    fig = _figure(11, 5.6)
    axes = fig.subplots(1, 2)
    heads = {"topic": "topic head: highest probability vs right", "sensitivity": "sensitivity head: score vs label"}
    for ax, (head, what) in zip(axes, heads.items(), strict=True):
        ax.plot([0, 1], [0, 1], ls="--", color="grey", lw=1, label="perfect calibration")
        for colour, (name, calibration) in zip(COLOURS, systems.items(), strict=False):
            c = calibration.get(head, {})
            if not c.get("count"):
                continue
            filled = [b for b in c["bins"] if b["count"]]
            x = [b["mean_probability"] for b in filled]
            y = [b["frequency"] for b in filled]
            sizes = 20 + 180 * np.sqrt(np.array([b["count"] for b in filled]) / c["count"])
            ax.plot(x, y, "-", color=colour, lw=1.4, label=f"{name} ECE {c['ece']:.3f} (n={c['count']})")
            ax.scatter(x, y, s=sizes, color=colour, alpha=0.6, zorder=3)
        ax.set_xlim(-0.02, 1.02)
        ax.set_ylim(-0.02, 1.04)
        ax.set_xlabel("mean predicted probability (bin)", fontsize=10)
        ax.set_ylabel("observed frequency", fontsize=10)
        ax.set_title(what, fontsize=10)
        ax.grid(alpha=0.3)
        ax.legend(fontsize=8, loc="upper left")
    fig.suptitle(f"{title}  (dot area ~ rows in bin)", fontsize=12)
    return _save(fig, path)


def budget_png(systems: Mapping[str, Mapping[str, Any]], title: str, path: Path) -> Path:
    """Review-budget curves: recall of must-review rows against the share of rows sent to review."""
    fig = _figure(7.5, 5.6)
    ax = fig.subplots()
    ax.plot([0, 1], [0, 1], ls="--", color="grey", lw=1, label="random order")
    for colour, (name, routing) in zip(COLOURS, systems.items(), strict=False):
        curve = routing.get("budget_curve")
        if not curve:
            continue
        ax.step(curve["share"], curve["recall"], where="post", color=colour, lw=1.6, label=f"{name}: ranked by score")
        if routing.get("must_review_recall") is not None:
            ax.plot([routing["routed_share"]], [routing["must_review_recall"]], "o", color=colour, ms=8,
                    label=f"{name}: policy ({routing['routed_share']:.1%} routed, "
                          f"recall {routing['must_review_recall']:.3f})")
    ax.axhline(0.95, color="grey", ls=":", lw=1)
    ax.set_xlim(-0.01, 1.01)
    ax.set_ylim(-0.01, 1.03)
    ax.set_xlabel("share of paragraphs sent to review", fontsize=10)
    ax.set_ylabel("recall of must-review paragraphs", fontsize=10)
    ax.set_title(title, fontsize=11)
    ax.grid(alpha=0.3)
    ax.legend(fontsize=8, loc="lower right")
    return _save(fig, path)


def _fmt(value: float | None) -> str:
    return "n/a" if value is None else f"{value:.3f}"
