"""What a paragraph's gold labels say about routing, with partial labels, and the review-ranking score.

References are three-valued: 1, 0, or -1 when the known labels do not decide (an unknown category or
topic could change the answer).
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence

import numpy as np

from ..labels import CATEGORIES, TOPICS
from ..policy import ALLOW, Policy
from ..training.data import Example

#: The topic whose paragraphs must be reviewed even with no sensitivity flag.
REVIEW_TOPIC = "crime_justice"


def must_review(example: Example) -> int:
    """1 if any category is 1 or the topic is crime_justice; 0 if all seven categories are 0 and the topic
    is known and another; else -1 (unknown)."""
    if any(v == 1 for v in example.sensitivity.values()) or example.topic == REVIEW_TOPIC:
        return 1
    if example.topic is not None and all(example.sensitivity.get(c) == 0 for c in CATEGORIES):
        return 0
    return -1


def urgent_reference(example: Example, policy: Policy) -> int:
    """1 if the gold labels route to ``urgent_review`` under ``policy`` (a flag for each category that is 1),
    0 if they cannot whatever the unknown labels are, -1 if the unknown labels decide."""
    low = _gold_decision(policy, example.topic, {c: v for c, v in example.sensitivity.items() if v == 1})
    if low == "urgent_review":
        return 1
    high_flags = {c: 1 for c in CATEGORIES if example.sensitivity.get(c, 1) == 1}
    topics = [example.topic] if example.topic is not None else list(TOPICS)
    return -1 if any(_gold_decision(policy, t, high_flags) == "urgent_review" for t in topics) else 0


def _gold_decision(policy: Policy, topic: str | None, flags: Mapping[str, int]) -> str:
    # gold flags are 0 or 1: the policy's thresholds play no part
    rules = Policy(categories=policy.categories, topics=policy.topics)
    scores = {c: float(flags.get(c, 0)) for c in CATEGORIES}
    return rules.decide(topic or "", scores, {c: 0.5 for c in CATEGORIES}).route


def review_scores(
    topic_probs: np.ndarray,
    sens_scores: np.ndarray,
    topics: Sequence[str],
    categories: Sequence[str],
    thresholds: Mapping[str, float],
    policy: Policy,
) -> np.ndarray:
    """How far each paragraph is above the point where ``policy`` routes it to review (1.0 = the cut).

    The largest of: score / threshold for every category whose rule routes to review, and for every topic
    whose rule routes to review, its probability over the best other topic's (above 1 when it is the
    predicted topic). Ranking by this score and cutting at 1.0 reproduces the policy's routing; other cuts
    trace the review-budget curve.
    """
    n = len(topic_probs)
    out = np.zeros(n)
    for k, c in enumerate(categories):
        if policy.categories.get(c, ALLOW).route != "allow":
            cut = max(policy.threshold(c, thresholds), 1e-6)
            out = np.maximum(out, np.asarray(sens_scores)[:, k] / cut)
    probs = np.asarray(topic_probs, dtype=np.float64)
    for k, t in enumerate(topics):
        if policy.topics.get(t, ALLOW).route != "allow" and probs.shape[1] > 1:
            others = np.delete(probs, k, axis=1).max(1)
            out = np.maximum(out, probs[:, k] / np.maximum(others, 1e-12))
    return out

