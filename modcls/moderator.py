"""The Moderator: classify paragraphs and moderate whole articles with one loaded model."""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path
from typing import Any

from .errors import InputError, ModelLoadError
from .evidence import attach_evidence
from .inference import Predictor, Scores
from .policy import Policy
from .results import ArticleResult, ParagraphResult
from .segmentation import split_paragraphs

#: Where the trained default model ships, inside the package.
DEFAULT_MODEL_DIR = Path(__file__).parent / "default_model"

#: How many leading paragraphs of an article are searched for its headline (see :meth:`Moderator.moderate`).
HEADLINE_SEARCH = 4

#: Longest text accepted as one article or one paragraph, in characters (about 30 pages of news).
MAX_TEXT_CHARS = 100_000


def check_text(text: object, what: str = "text") -> str:
    """Return ``text`` if it can be moderated, else raise :class:`InputError` naming the problem."""
    if not isinstance(text, str):
        raise InputError(f"{what} must be a string, got {type(text).__name__}")
    if not text.strip():
        raise InputError(f"{what} is empty or only whitespace")
    if len(text) > MAX_TEXT_CHARS:
        raise InputError(f"{what} has {len(text):,} characters; the limit is {MAX_TEXT_CHARS:,}")
    return text


def default_model_dir() -> Path:
    """The shipped default model, or a :class:`ModelLoadError` saying none has been trained yet."""
    if not (DEFAULT_MODEL_DIR / "config.json").is_file():
        raise ModelLoadError(
            "no trained default model is installed with modcls yet: train one with "
            "`modcls train --config training/configs/default.yaml`, or pass a model folder (--model DIR)"
        )
    return DEFAULT_MODEL_DIR


class Moderator:
    """Labels paragraphs by topic and sensitivity and routes them to review.

    >>> moderator = Moderator.from_pretrained()           # the shipped default model
    >>> moderator.moderate(article_text).route            # 'allow' | 'review' | 'urgent_review'
    """

    def __init__(self, predictor: Predictor, policy: Policy | None = None, name: str = "") -> None:
        self.predictor = predictor
        config = predictor.config
        self.policy = policy or Policy.from_dict(config.policy)
        self.thresholds: dict[str, float] = dict(config.thresholds)
        self.urgent_thresholds: dict[str, float] = dict(getattr(config, "urgent_thresholds", None) or {})
        self.name = name or config.model_version
        #: The folder the model was loaded from (None when built from a predictor).
        self.model_dir: Path | None = None

    @classmethod
    def from_pretrained(
        cls,
        path: str | Path | None = None,
        *,
        policy: Policy | str | Path | None = None,
        precision: str = "auto",
        cache_size: int = 4096,
    ) -> Moderator:
        """Load a model folder (None: the shipped default) with an optional policy override file.

        ``precision``: ``auto`` (default: the fastest path that keeps the model's quality on this CPU, see
        :mod:`modcls.engines.cpu`), ``fp32``, ``bf16``, ``fast`` or ``int8``.
        """
        folder = Path(path) if path is not None else default_model_dir()
        if not folder.is_dir():
            raise ModelLoadError(f"model folder not found: {folder}")
        predictor = Predictor.from_pretrained(folder, precision=precision, cache_size=cache_size)
        base_policy = Policy.from_dict(predictor.config.policy)
        if isinstance(policy, (str, Path)):
            policy = Policy.from_file(policy, base=base_policy)
        moderator = cls(predictor, policy or base_policy, name=str(predictor.config.model_version))
        moderator.model_dir = folder
        return moderator

    @property
    def topics(self) -> list[str]:
        return list(self.predictor.config.topics)

    @property
    def categories(self) -> list[str]:
        return list(self.predictor.config.categories)

    def info(self) -> dict[str, Any]:
        """Labels, thresholds in force, policy, version and precision: what a caller needs to audit."""
        return {
            "model_version": self.name,
            "base_model": self.predictor.config.base_model,
            "precision": self.predictor.precision,
            "engine": self.predictor.engine_info,
            "topics": self.topics,
            "categories": self.categories,
            "thresholds": {c: self.policy.threshold(c, self.thresholds) for c in self.categories},
            "urgent_thresholds": {
                c: self.policy.urgent_threshold(c, self.thresholds, self.urgent_thresholds)
                for c, rule in self.policy.categories.items() if rule.urgent is not None
            },
            "reads_context": self.predictor.reads_context,
            "policy": self.policy.to_dict(),
            "window_tokens": self.predictor.window,
        }

    def classify(
        self,
        paragraphs: Sequence[str],
        batch_size: int = 32,
        context: str | Sequence[str | None] | None = None,
        evidence: bool = True,
    ) -> list[ParagraphResult]:
        """Label each paragraph. Raises :class:`InputError` naming the first bad one.

        ``context``: the article context the paragraphs are read with (their headline) — one string for
        all of them, or one per paragraph (None for none). Models trained without context ignore it.
        ``evidence``: find the sentences that carry each flag (:mod:`modcls.evidence`; one extra batch
        over the sentences of flagged paragraphs).
        """
        if isinstance(paragraphs, str):
            raise InputError("classify takes a list of paragraphs; use moderate() for an article")
        for i, text in enumerate(paragraphs):
            check_text(text, f"paragraph {i}")
        contexts = _contexts(context, len(paragraphs))
        scores = self.predictor.predict(list(paragraphs), batch_size=batch_size, contexts=contexts)
        results = [self._result(i, text, s) for i, (text, s) in enumerate(zip(paragraphs, scores))]
        if evidence:
            self._explain(results, contexts, batch_size)
        return results

    def moderate(self, article_text: str, batch_size: int = 32, evidence: bool = True) -> ArticleResult:
        """Split an article into paragraphs, label each, and route the article.

        Each paragraph is read with the article's headline as context: the first paragraph that the
        model, reading it alone, does not take for page furniture. The headline itself is read alone.
        """
        check_text(article_text, "article")
        parts = split_paragraphs(article_text)
        texts = [p.text for p in parts]
        alone: dict[int, Scores] = {}
        headline = None
        if self.predictor.reads_context:
            for k, part in enumerate(parts[:HEADLINE_SEARCH]):
                alone[k] = self.predictor.predict([part.text], batch_size=batch_size)[0]
                if self.topics[int(alone[k].topic.argmax())] != "non_editorial":
                    headline = k
                    break
        rest = [k for k in range(len(parts)) if k != headline]
        context = None if headline is None else texts[headline]
        scored = self.predictor.predict([texts[k] for k in rest], batch_size=batch_size,
                                        contexts=[context] * len(rest))
        scores = dict(zip(rest, scored))
        if headline is not None:
            scores[headline] = alone[headline]
        results = []
        for k, part in enumerate(parts):
            result = self._result(part.index, part.text, scores[k])
            result.start, result.end = part.start, part.end
            results.append(result)
        if evidence:
            self._explain(results, [None if k == headline else context for k in range(len(parts))], batch_size,
                          article_text)
        return ArticleResult.from_paragraphs(results, self.model_info(), headline)

    def model_info(self) -> dict[str, Any]:
        return {"version": self.name, "precision": self.predictor.precision, "engine": self.predictor.engine_info}

    def _explain(
        self, results: list[ParagraphResult], contexts: Sequence[str | None] | None, batch_size: int,
        article: str | None = None,
    ) -> None:
        attach_evidence(
            self.predictor, results, contexts=contexts, batch_size=batch_size, article=article,
            thresholds={c: self.policy.threshold(c, self.thresholds) for c in self.categories},
            routing_topics=[t for t, rule in self.policy.topics.items() if rule.route != "allow"],
        )

    def _result(self, index: int, text: str, scores: Scores) -> ParagraphResult:
        topic_scores = {t: round(float(p), 6) for t, p in zip(self.topics, scores.topic)}
        sensitivity = {c: round(float(p), 6) for c, p in zip(self.categories, scores.sensitivity)}
        topic = max(topic_scores, key=topic_scores.__getitem__)
        decision = self.policy.decide(topic, sensitivity, self.thresholds, self.urgent_thresholds)
        return ParagraphResult(
            index=index,
            text=text,
            topic=topic,
            topic_scores=topic_scores,
            sensitivity=sensitivity,
            flags=decision.flags,
            route=decision.route,
            priority=decision.priority,
            reasons=decision.reasons,
            chunks=scores.chunks,
        )


def _contexts(context: str | Sequence[str | None] | None, n: int) -> list[str | None] | None:
    """One context per paragraph from a shared string, a per-paragraph sequence or None."""
    if context is None:
        return None
    if isinstance(context, str):
        return [context] * n
    contexts = list(context)
    if len(contexts) != n:
        raise InputError(f"{len(contexts)} contexts given for {n} paragraphs")
    for i, c in enumerate(contexts):
        if c is not None and not isinstance(c, str):
            raise InputError(f"context of paragraph {i} must be a string or None, got {type(c).__name__}")
    return contexts
