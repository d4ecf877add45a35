"""Request and response models of the REST API (pydantic). Result bodies are ``ParagraphResult.to_dict()``
and ``ArticleResult.to_dict()``; the models here only describe them for validation and the OpenAPI schema.
"""

from __future__ import annotations

from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field

ID = Field(default=None, max_length=256, description="caller's id (kept, returned, stored with review items)")


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid")


# -- moderation ---------------------------------------------------------------------------------------
class ModerateRequest(_Strict):
    text: str = Field(description="the article, raw text; paragraphs are separated by blank lines")
    id: str | None = Field(default=None, max_length=256,
                           description="article id, stored with its review items (a random one when absent)")


class ParagraphIn(_Strict):
    text: str
    id: str | None = ID
    context: str | None = Field(default=None, description="this paragraph's article context (its headline); "
                                                          "overrides the request's context")


class ClassifyRequest(_Strict):
    paragraphs: list[ParagraphIn | str] = Field(
        description="paragraphs to label, each a string or {text, id, context}")
    context: str | None = Field(default=None, description="article context (the headline) the paragraphs are "
                                                          "read with; models trained without context ignore it")
    article_id: str | None = Field(default=None, max_length=256,
                                   description="id stored with the review items of these paragraphs "
                                               "(a random one when absent)")


class EvidenceOut(BaseModel):
    """``Evidence``: a sentence that carries a label, its offsets and its score read alone."""

    label: str = Field(description="a flagged category, or the topic that routed the paragraph")
    start: int = Field(description="offset of the sentence in the paragraph's text")
    end: int
    text: str
    score: float = Field(description="the label's score of the sentence read alone")
    article_start: int | None = Field(default=None, description="offset in the moderated article")
    article_end: int | None = None


class ParagraphOut(BaseModel):
    """``ParagraphResult.to_dict()``."""

    index: int
    text: str
    topic: str
    topic_scores: dict[str, float]
    sensitivity: dict[str, float]
    flags: list[str]
    route: str
    priority: str
    reasons: list[str]
    start: int | None
    end: int | None
    chunks: int
    evidence: list[EvidenceOut] = Field(default_factory=list,
                                        description="for each flag (and a routing topic), the sentences that carry it")


class ModerateResponse(BaseModel):
    """``ArticleResult.to_dict()`` (the JSON of ``modcls moderate --json``) plus ``id`` and ``queued``."""

    id: str = Field(description="the article id (given or generated)")
    route: str
    priority: str
    evidence: list[int]
    headline: int | None = Field(default=None, description="index of the paragraph read as the others' context")
    paragraphs: list[ParagraphOut]
    model: dict[str, Any]
    queued: list[int] = Field(description="ids of the review items created for this article's paragraphs")


class ClassifiedParagraph(ParagraphOut):
    id: str | None = Field(description="the paragraph id given in the request, if any")


class ClassifyResponse(BaseModel):
    article_id: str
    results: list[ClassifiedParagraph]
    model: dict[str, Any]
    queued: list[int]


class ModelInfo(BaseModel):
    model_version: str
    base_model: str | None
    precision: str
    topics: list[str]
    categories: list[str]
    thresholds: dict[str, float]
    policy: dict[str, Any]
    window_tokens: int
    metrics: dict[str, Any] | None = Field(description="headline figures from the model's metrics.json, if any")
    drift: dict[str, Any] = Field(description="score drift over the rolling window against the model's reference "
                                              "(score_reference.json); available false, with a reason, without one")
    model_dir: str | None = None
    loaded_at: float | None = Field(default=None, description="when this model was loaded (epoch seconds)")


class ReloadRequest(_Strict):
    model: str | None = Field(default=None, max_length=4096,
                              description="model folder to load (default: the folder in service, read again)")


class ReloadResponse(BaseModel):
    previous: str | None
    model_version: str
    load_seconds: float


class Health(BaseModel):
    status: str
    detail: str | None = None


# -- review -------------------------------------------------------------------------------------------
class NextRequest(_Strict):
    reviewer: str = Field(min_length=1, max_length=200)
    lease_seconds: int | None = Field(default=None, ge=1, le=86_400)
    order: Literal["severity", "uncertainty"] | None = Field(
        default=None, description="within a priority level: oldest first (severity), or scores closest to their "
                                  "thresholds first (uncertainty); default: the server's --review-order")


class ReviewerRequest(_Strict):
    reviewer: str = Field(min_length=1, max_length=200)


class DecisionRequest(_Strict):
    reviewer: str = Field(min_length=1, max_length=200)
    decision: Literal["confirm", "correct"]
    topic: str | None = Field(default=None, description="corrected topic (correct only)")
    categories: list[str] | None = Field(
        default=None, description="every category that applies, [] for none (correct only)")
    note: str | None = Field(default=None, max_length=4000)


class ReviewItemOut(BaseModel):
    """``ReviewItem.to_dict()``."""

    id: int
    article_id: str
    paragraph_id: str | None
    paragraph_index: int
    text: str
    topic: str
    topic_scores: dict[str, float]
    sensitivity: dict[str, float]
    flags: list[str]
    reasons: list[str]
    route: str
    priority: str
    model_version: str
    created_at: str
    status: str
    lease_owner: str | None
    lease_expires: str | None
    leases: int
    decision: str | None
    decided_topic: str | None
    decided_sensitivity: dict[str, int] | None
    note: str | None
    reviewer: str | None
    decided_at: str | None
    evidence: list[EvidenceOut]
    context: dict[str, Any] | None = Field(description="the article around the paragraph: headline, before, after")
    margin: float | None = Field(description="smallest |score - threshold| over the categories")


class QueueStats(BaseModel):
    total: int
    pending: int
    leased: int
    decided: int
    waiting: dict[str, int]
    oldest_waiting_seconds: float | None


class QueueReport(QueueStats):
    decisions_per_day: dict[str, int]
    decisions_by_reviewer: dict[str, int]
    agreement: dict[str, Any] = Field(description="share of decisions agreeing with the model: topic, and per "
                                                  "category (both, model_only, reviewer_only, neither, agreement)")
