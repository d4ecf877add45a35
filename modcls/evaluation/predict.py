"""Scores and routes of the systems under evaluation: a modcls model, or the TF-IDF baseline."""

from __future__ import annotations

import sys
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np

from ..policy import Policy
from .references import review_scores

if TYPE_CHECKING:
    from ..moderator import Moderator
    from ..training.baseline import TfidfBaseline

#: Paragraphs scored per step of the progress bar.
CHUNK = 64


@dataclass
class SystemOutput:
    """What one system says about each evaluated paragraph, in row order.

    ``thresholds`` are the system's own (calibrated) category thresholds, at which category figures are
    computed; ``routes`` come from the routing policy, whose thresholds may override them.
    """

    name: str
    topics: list[str]
    categories: list[str]
    topic: np.ndarray
    sensitivity: np.ndarray
    routes: list[str]
    review_score: np.ndarray
    thresholds: dict[str, float]
    info: dict[str, Any] = field(default_factory=dict)


def predict_model(
    moderator: Moderator,
    texts: Sequence[str],
    *,
    batch_size: int = 32,
    progress: bool = True,
    name: str = "model",
    contexts: Sequence[str | None] | None = None,
) -> SystemOutput:
    """Calibrated scores (as the predictor gives them) and routes (as the moderator serves them).

    ``contexts``: each row's article context (its headline, or None), as ``Moderator.classify`` takes it.
    """
    from tqdm import tqdm

    predictor = moderator.predictor
    topic, sens, routes = [], [], []
    with tqdm(total=len(texts), unit="row", desc=f"evaluate {name}", disable=not progress, file=sys.stderr) as bar:
        for start in range(0, len(texts), CHUNK):
            chunk = list(texts[start : start + CHUNK])
            ctx = None if contexts is None else list(contexts[start : start + CHUNK])
            scores = predictor.predict(chunk, batch_size=batch_size, contexts=ctx)
            # answered from the predictor's cache
            results = moderator.classify(chunk, batch_size=batch_size, context=ctx, evidence=False)
            topic += [s.topic for s in scores]
            sens += [s.sensitivity for s in scores]
            routes += [r.route for r in results]
            bar.update(len(chunk))
    config = predictor.config
    topics, categories = list(config.topics), list(config.categories)
    t = np.stack(topic) if topic else np.zeros((0, len(topics)))
    s = np.stack(sens) if sens else np.zeros((0, len(categories)))
    return SystemOutput(
        name=name, topics=topics, categories=categories, topic=t, sensitivity=s, routes=routes,
        review_score=review_scores(t, s, topics, categories, moderator.thresholds, moderator.policy),
        thresholds={c: float(config.thresholds.get(c, 0.5)) for c in categories},
        info={"kind": "modcls", "model_version": config.model_version, "base_model": config.base_model,
              "precision": predictor.precision, "policy": moderator.policy.to_dict(),
              "thresholds_in_force": {c: moderator.policy.threshold(c, moderator.thresholds) for c in categories}},
    )


def predict_baseline(
    baseline: TfidfBaseline,
    texts: Sequence[str],
    policy: Policy | None = None,
    *,
    name: str = "baseline",
) -> SystemOutput:
    """The baseline's scores, routed by ``policy``'s rules (default: the default policy) at its own thresholds.

    A policy's threshold overrides are tuned for the model and are not applied to the baseline.
    """
    policy = policy or Policy()
    rules = Policy(categories=policy.categories, topics=policy.topics)
    if len(texts):
        topic, sens = baseline.predict(list(texts))
    else:
        topic, sens = np.zeros((0, len(baseline.topics))), np.zeros((0, len(baseline.categories)))
    routes = []
    for t, s in zip(topic, sens, strict=True):
        decision = rules.decide(baseline.topics[int(np.argmax(t))],
                                {c: float(v) for c, v in zip(baseline.categories, s, strict=True)}, baseline.thresholds)
        routes.append(decision.route)
    return SystemOutput(
        name=name, topics=list(baseline.topics), categories=list(baseline.categories), topic=np.asarray(topic),
        sensitivity=np.asarray(sens), routes=routes,
        review_score=review_scores(topic, sens, baseline.topics, baseline.categories, baseline.thresholds, rules),
        thresholds={c: float(baseline.thresholds.get(c, 0.5)) for c in baseline.categories},
        info={"kind": "tfidf-baseline", "policy": rules.to_dict(),
              "thresholds_in_force": {c: rules.threshold(c, baseline.thresholds) for c in baseline.categories}},
    )


def load_baseline(model_dir: str | Path) -> TfidfBaseline:
    """The TF-IDF baseline saved by training next to the model (``MODEL_DIR/baseline``)."""
    from ..errors import ModclsError
    from ..training.baseline import TfidfBaseline

    folder = Path(model_dir) / "baseline"
    if not (folder / "baseline.json").is_file():
        raise ModclsError(f"no TF-IDF baseline in {folder}: training saves one when `baseline: true`")
    return TfidfBaseline.load(folder)
