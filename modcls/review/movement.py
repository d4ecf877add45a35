"""How much a model's answers on reviewed rows moved from the answers the rows were reviewed on.

Exported review rows keep what the routing model predicted (``meta.model_topic``, ``model_flags``,
``model_sensitivity``). Scored again by a retrained model, they show whether it learned the reviewers'
corrections: agreement with the reviewers before and after, per category and on the topic, and the mean
move of each category's score towards the reviewer's label.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from ..labels import CATEGORIES
from ..results import ParagraphResult


def movement(rows: Sequence[dict[str, Any]], results: Sequence[ParagraphResult]) -> dict[str, Any]:
    """Compare exported review ``rows`` with a model's ``results`` on their texts (same order).

    Per category: ``before`` and ``after`` agreement with the reviewers (share of rows whose flag matches
    the decided label), ``moved`` (mean score change towards the decided label: positive is learning) and
    ``flips`` (rows whose flag changed). Rows exported before model scores were kept have no ``moved``.
    """
    if len(rows) != len(results):
        raise ValueError(f"{len(rows)} rows for {len(results)} results")
    cats: dict[str, dict[str, Any]] = {}
    for c in CATEGORIES:
        before = after = flips = 0
        moves: list[float] = []
        for row, result in zip(rows, results):
            meta = row.get("meta") or {}
            label = bool(row["sensitivity"].get(c))
            old_flag, new_flag = c in (meta.get("model_flags") or ()), c in result.flags
            before += int(old_flag == label)
            after += int(new_flag == label)
            flips += int(old_flag != new_flag)
            old_score = (meta.get("model_sensitivity") or {}).get(c)
            if old_score is not None:
                delta = float(result.sensitivity[c]) - float(old_score)
                moves.append(delta if label else -delta)
        n = len(rows)
        cats[c] = {"before": _share(before, n), "after": _share(after, n), "flips": flips,
                   "moved": round(sum(moves) / len(moves), 4) if moves else None}
    topic_before = sum(int((r.get("meta") or {}).get("model_topic") == r["topic"]) for r in rows)
    topic_after = sum(int(res.topic == r["topic"]) for r, res in zip(rows, results))
    return {"rows": len(rows), "topic": {"before": _share(topic_before, len(rows)),
                                         "after": _share(topic_after, len(rows))},
            "categories": cats}


def _share(k: int, n: int) -> float | None:
    return round(k / n, 4) if n else None
