"""A retrained model against its starting model, on the same held-out rows: F1 per category, before and after."""

from __future__ import annotations

from typing import Any

#: Default of ``--tolerance``: the largest fall in a category's F1 that ``--require-no-regression`` accepts.
TOLERANCE = 0.02


def compare(before: dict[str, Any], after: dict[str, Any]) -> dict[str, Any]:
    """Figures of one split (all its rows) before and after: ``{"rows", "rows_compared": [...]}``.

    ``before``/``after`` are figures as in ``metrics.json`` (``rows``, ``topic``, ``sensitivity``). A
    category with no positive among the rows has no F1 and is not compared.
    """
    rows = []
    for category, a in after.get("sensitivity", {}).items():
        b = before.get("sensitivity", {}).get(category, {})
        f1_before, f1_after = _f1(b), _f1(a)
        delta = None if f1_before is None or f1_after is None else round(f1_after - f1_before, 4)
        rows.append({"name": category, "positives": a.get("positives", 0), "before": f1_before, "after": f1_after,
                     "delta": delta})
    topic_b, topic_a = before.get("topic", {}).get("macro_f1"), after.get("topic", {}).get("macro_f1")
    topic = {"name": "topic macro-F1", "positives": None, "before": topic_b, "after": topic_a,
             "delta": None if topic_b is None or topic_a is None else round(topic_a - topic_b, 4)}
    return {"rows": after.get("rows", 0), "categories": rows, "topic": topic}


def regressions(comparison: dict[str, Any], tolerance: float = TOLERANCE) -> list[str]:
    """The categories whose F1 fell by more than ``tolerance``."""
    return [r["name"] for r in comparison["categories"] if r["delta"] is not None and r["delta"] < -tolerance]


def format_table(comparison: dict[str, Any], split: str, tolerance: float | None = None) -> str:
    """A plain-text table of the comparison; with ``tolerance``, regressions beyond it are marked."""
    lines = [f"{split} split, {comparison['rows']} rows: F1 of the starting model and of the retrained one",
             f"{'':<20} {'positives':>9} {'before':>7} {'after':>7} {'change':>7}"]
    for r in [*comparison["categories"], comparison["topic"]]:
        mark = ""
        if tolerance is not None and r["name"] in regressions(comparison, tolerance):
            mark = f"  regression (> {tolerance:g})"
        positives = "" if r["positives"] is None else str(r["positives"])
        lines.append(f"{r['name']:<20} {positives:>9} {_fmt(r['before']):>7} {_fmt(r['after']):>7} "
                     f"{_fmt(r['delta'], signed=True):>7}{mark}")
    return "\n".join(lines)


def _f1(figures: dict[str, Any]) -> float | None:
    return figures.get("f1") if figures.get("positives") else None


def _fmt(value: float | None, signed: bool = False) -> str:
    if value is None:
        return "n/a"
    return f"{value:+.3f}" if signed else f"{value:.3f}"
