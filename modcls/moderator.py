"""The Moderator: classify paragraphs and moderate whole articles with one loaded model."""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path
from typing import Any

from .errors import InputError, ModelLoadError
from .inference import Predictor, Scores
from .policy import Policy
from .results import ArticleResult, ParagraphResult
from .segmentation import split_paragraphs

#: Where the trained default model ships, inside the package.
DEFAULT_MODEL_DIR = Path(__file__).parent / "default_model"

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
        self.name = name or config.model_version

    @classmethod
    def from_pretrained(
        cls,
        path: str | Path | None = None,
        *,
        policy: Policy | str | Path | None = None,
        precision: str = "fp32",
        cache_size: int = 4096,
    ) -> Moderator:
        """Load a model folder (None: the shipped default) with an optional policy override file."""
        folder = Path(path) if path is not None else default_model_dir()
        if not folder.is_dir():
            raise ModelLoadError(f"model folder not found: {folder}")
        predictor = Predictor.from_pretrained(folder, precision=precision, cache_size=cache_size)
        base_policy = Policy.from_dict(predictor.config.policy)
        if isinstance(policy, (str, Path)):
            policy = Policy.from_file(policy, base=base_policy)
        return cls(predictor, policy or base_policy, name=str(predictor.config.model_version))

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
            "topics": self.topics,
            "categories": self.categories,
            "thresholds": {c: self.policy.threshold(c, self.thresholds) for c in self.categories},
            "policy": self.policy.to_dict(),
            "window_tokens": self.predictor.window,
        }

    def classify(self, paragraphs: Sequence[str], batch_size: int = 32) -> list[ParagraphResult]:
        """Label each paragraph on its own. Raises :class:`InputError` naming the first bad one."""
        if isinstance(paragraphs, str):
            raise InputError("classify takes a list of paragraphs; use moderate() for an article")
        for i, text in enumerate(paragraphs):
            check_text(text, f"paragraph {i}")
        scores = self.predictor.predict(list(paragraphs), batch_size=batch_size)
        return [self._result(i, text, s) for i, (text, s) in enumerate(zip(paragraphs, scores))]

    def moderate(self, article_text: str, batch_size: int = 32) -> ArticleResult:
        """Split an article into paragraphs, label each, and route the article."""
        check_text(article_text, "article")
        parts = split_paragraphs(article_text)
        scores = self.predictor.predict([p.text for p in parts], batch_size=batch_size)
        results = []
        for part, s in zip(parts, scores):
            result = self._result(part.index, part.text, s)
            result.start, result.end = part.start, part.end
            results.append(result)
        return ArticleResult.from_paragraphs(results, self.model_info())

    def model_info(self) -> dict[str, Any]:
        return {"version": self.name, "precision": self.predictor.precision}

    def _result(self, index: int, text: str, scores: Scores) -> ParagraphResult:
        topic_scores = {t: round(float(p), 6) for t, p in zip(self.topics, scores.topic)}
        sensitivity = {c: round(float(p), 6) for c, p in zip(self.categories, scores.sensitivity)}
        topic = max(topic_scores, key=topic_scores.__getitem__)
        decision = self.policy.decide(topic, sensitivity, self.thresholds)
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
