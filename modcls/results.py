"""Typed results of classification and moderation, with lossless ``to_dict``/``from_dict``."""

from __future__ import annotations

from dataclasses import asdict, dataclass, field
from typing import Any

from .labels import severity


@dataclass
class Evidence:
    """A sentence of a paragraph that carries one of its labels (a flagged category, or a routing topic).

    ``start``/``end`` are character offsets into the paragraph's ``text``; ``article_start``/``article_end``
    into the moderated article (``None`` for paragraphs classified on their own). ``score`` is the label's
    score of the sentence read alone (with the paragraph's context): a category's sensitivity score, or the
    topic's probability.
    """

    label: str
    start: int
    end: int
    text: str
    score: float
    article_start: int | None = None
    article_end: int | None = None


@dataclass
class ParagraphResult:
    """Labels, scores and route of one paragraph.

    ``topic_scores`` holds a probability for each topic id; ``sensitivity`` a score in [0, 1] for each
    category; ``flags`` the categories at or above their threshold. ``start``/``end`` are character
    offsets into the moderated article (``None`` for paragraphs classified on their own). ``chunks`` is
    the number of model windows the paragraph needed (more than one for paragraphs over the window).
    ``evidence`` lists, for each flag (and a routing topic), the sentences that carry it, strongest first.
    """

    index: int
    text: str
    topic: str
    topic_scores: dict[str, float]
    sensitivity: dict[str, float]
    flags: list[str]
    route: str
    priority: str
    reasons: list[str] = field(default_factory=list)
    start: int | None = None
    end: int | None = None
    chunks: int = 1
    evidence: list[Evidence] = field(default_factory=list)

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> ParagraphResult:
        evidence = [e if isinstance(e, Evidence) else Evidence(**e) for e in data.get("evidence") or []]
        return cls(**(data | {"evidence": evidence}))


@dataclass
class ArticleResult:
    """The most severe route of an article's paragraphs, the paragraphs that caused it, and all results.

    ``headline``: index of the paragraph the others were read with as context (None: each read alone).
    """

    route: str
    priority: str
    evidence: list[int]
    paragraphs: list[ParagraphResult]
    model: dict[str, Any] = field(default_factory=dict)
    headline: int | None = None

    @classmethod
    def from_paragraphs(
        cls, paragraphs: list[ParagraphResult], model: dict[str, Any] | None = None, headline: int | None = None
    ) -> ArticleResult:
        """Aggregate: the article takes its most severe paragraph route; evidence lists those paragraphs."""
        if not paragraphs:
            return cls("allow", "none", [], [], dict(model or {}), headline)
        top = max(severity(p.route, p.priority) for p in paragraphs)
        worst = next(p for p in paragraphs if severity(p.route, p.priority) == top)
        evidence = [p.index for p in paragraphs if p.route == worst.route and p.route != "allow"]
        return cls(worst.route, worst.priority, evidence, paragraphs, dict(model or {}), headline)

    def to_dict(self) -> dict[str, Any]:
        return {
            "route": self.route,
            "priority": self.priority,
            "evidence": list(self.evidence),
            "headline": self.headline,
            "paragraphs": [p.to_dict() for p in self.paragraphs],
            "model": dict(self.model),
        }

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> ArticleResult:
        return cls(
            route=data["route"],
            priority=data["priority"],
            evidence=list(data["evidence"]),
            paragraphs=[ParagraphResult.from_dict(p) for p in data["paragraphs"]],
            model=dict(data.get("model", {})),
            headline=data.get("headline"),
        )
