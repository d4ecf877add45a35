"""Reviewers' decisions as rows of the training data schema (``data/GUIDELINES.md``), for retraining.

Each row carries the text, the decided topic and all seven categories (0 or 1), ``source`` =
``modcls-review``, the licence the operator states for the moderated content, and in ``meta`` who
decided, when, their note, the model version that routed the paragraph and what that model predicted
(topic, flags and every score), so that a retrained model can be compared with it on the same rows
(:mod:`modcls.review.movement`, ``modcls review compare``). Feed the file to
``modcls train --init-from MODEL --add-data new.jsonl``.
"""

from __future__ import annotations

import json
from datetime import date, datetime
from typing import IO, Any

from .store import ReviewItem, ReviewQueue

SOURCE = "modcls-review"
#: Licence written when the operator states none: the texts are the moderated content's, not the project's.
DEFAULT_LICENSE = "unspecified"


def training_row(item: ReviewItem, queue_id: str, license: str = DEFAULT_LICENSE) -> dict[str, Any]:
    """One decided item as a data-schema row; its id is unique across queues (``queue_id``)."""
    if item.status != "decided" or item.decided_sensitivity is None:
        raise ValueError(f"review item {item.id} has no decision yet")
    return {
        "id": f"{SOURCE}:{queue_id}-{item.id}",
        "text": item.text,
        "topic": item.decided_topic,
        "sensitivity": dict(item.decided_sensitivity),
        "source": SOURCE,
        "license": license,
        "meta": {
            "reviewer": item.reviewer,
            "decided_at": item.decided_at.isoformat() if item.decided_at else None,
            "note": item.note,
            "model_version": item.model_version,
            "decision": item.decision,
            "model_topic": item.topic,
            "model_flags": list(item.flags),
            # what the model said, for measuring how much a retrain on these rows moved it
            "model_topic_scores": dict(item.topic_scores),
            "model_sensitivity": dict(item.sensitivity),
            "article_id": item.article_id,
            "paragraph_id": item.paragraph_id,
            "review_item": item.id,
        },
    }


def export_decisions(
    queue: ReviewQueue,
    out: IO[str],
    *,
    since: datetime | date | str | None = None,
    license: str = DEFAULT_LICENSE,
) -> int:
    """Write the decisions made at or after ``since`` to ``out`` as JSONL; return how many rows."""
    count = 0
    for item in queue.decisions(since):
        out.write(json.dumps(training_row(item, queue.queue_id, license), ensure_ascii=False) + "\n")
        count += 1
    return count
