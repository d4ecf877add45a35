"""Evidence sentences: which sentence of a paragraph carries each of its flags.

Method: every sentence of a paragraph that needs evidence is scored on its own, with the context the
paragraph was read with, in one extra batch for all such paragraphs of a call. For each flagged category
the evidence is the sentence with the highest score for it, then any other sentence that reaches the
category's threshold alone (at most :data:`MAX_SENTENCES`, strongest first); for a paragraph routed by
its topic (crime_justice by default), the sentences with the highest probability of that topic.

Why this method: it answers the reviewer's question (this sentence, read alone, scores 0.91 for
violent_crime) with a score on the same scale as the thresholds, costs one forward pass over the
paragraph's text (sentences are shorter, so their attention is cheaper), and works on every inference
path (``fast`` included, which has no gradients). Occlusion (score the paragraph without each sentence)
costs one pass per sentence and misses a flag carried twice; gradient attribution needs the training
model. ``eval/evidence.py`` measures accuracy and cost of both sentence scoring and occlusion.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from typing import TYPE_CHECKING

from .results import Evidence, ParagraphResult
from .segmentation import split_sentences

if TYPE_CHECKING:
    from .inference import Predictor, Scores

#: Most evidence sentences kept per label.
MAX_SENTENCES = 3


def evidence_labels(result: ParagraphResult, routing_topics: Sequence[str] = ()) -> list[str]:
    """The labels of ``result`` that need evidence: its flags, and its topic when that topic routed it."""
    labels = list(result.flags)
    if result.topic in routing_topics and any(r.startswith(f"topic {result.topic} ") for r in result.reasons):
        labels.append(result.topic)
    return labels


def sentence_spans(text: str) -> list[tuple[int, int]]:
    """Sentence spans of a paragraph, trimmed of surrounding spaces."""
    spans = []
    for s, e in split_sentences(text):
        while s < e and text[s].isspace():
            s += 1
        while e > s and text[e - 1].isspace():
            e -= 1
        if s < e:
            spans.append((s, e))
    return spans or [(0, len(text))]


def attach_evidence(
    predictor: Predictor,
    results: Sequence[ParagraphResult],
    *,
    thresholds: Mapping[str, float],
    routing_topics: Sequence[str] = (),
    contexts: Sequence[str | None] | None = None,
    batch_size: int = 32,
    article: str | None = None,
) -> None:
    """Fill ``result.evidence`` for each result with flags or a routing topic (one extra model batch).

    ``contexts``: the context each paragraph was read with (scored with its sentences too);
    ``thresholds``: the category thresholds in force; ``article``: the moderated text the results'
    ``start``/``end`` point into, to give evidence offsets into it.
    """
    jobs: list[tuple[int, list[str], list[tuple[int, int]]]] = []
    texts: list[str] = []
    text_contexts: list[str | None] = []
    for k, result in enumerate(results):
        labels = evidence_labels(result, routing_topics)
        result.evidence = []
        if not labels:
            continue
        spans = sentence_spans(result.text)
        jobs.append((k, labels, spans))
        if len(spans) > 1:
            texts += [result.text[s:e] for s, e in spans]
            text_contexts += [contexts[k] if contexts is not None else None] * len(spans)
    scored = predictor.predict(texts, batch_size=batch_size, contexts=text_contexts) if texts else []
    topics, categories = list(predictor.config.topics), list(predictor.config.categories)
    pos = 0
    for k, labels, spans in jobs:
        result = results[k]
        if len(spans) > 1:
            sentence_scores = scored[pos : pos + len(spans)]
            pos += len(spans)
        else:
            sentence_scores = None
        mapper = _article_mapper(article, result) if article is not None else None
        for label in labels:
            if sentence_scores is None:  # one sentence: it is the paragraph, whose score is known
                alone = [result.sensitivity.get(label, result.topic_scores.get(label, 0.0))]
            else:
                alone = [_label_score(s, label, topics, categories) for s in sentence_scores]
            for j in choose(alone, thresholds.get(label)):
                s, e = spans[j]
                ev = Evidence(label, s, e, result.text[s:e], round(float(alone[j]), 6))
                if mapper is not None:
                    ev.article_start, ev.article_end = mapper(s, e)
                result.evidence.append(ev)


def choose(scores: Sequence[float], threshold: float | None) -> list[int]:
    """Indexes of the evidence sentences: the best, then others at or above ``threshold``, best first.

    Without a threshold (a topic), others within 0.1 of the best that are over 0.5.
    """
    order = sorted(range(len(scores)), key=lambda j: -scores[j])
    best = order[0]
    if threshold is None:
        keep = [j for j in order[1:] if scores[j] >= 0.5 and scores[j] >= scores[best] - 0.1]
    else:
        keep = [j for j in order[1:] if scores[j] >= threshold]
    return [best, *keep][:MAX_SENTENCES]


def _label_score(scores: Scores, label: str, topics: list[str], categories: list[str]) -> float:
    if label in categories:
        return float(scores.sensitivity[categories.index(label)])
    return float(scores.topic[topics.index(label)])


def normalized_positions(original: str, start: int, end: int) -> list[int]:
    """For each character of ``normalize_whitespace(original[start:end])``, its index in ``original``.

    A run of whitespace becomes one space, mapped to the run's first character.
    """
    positions: list[int] = []
    i = start
    while i < end and original[i].isspace():
        i += 1
    last = end
    while last > i and original[last - 1].isspace():
        last -= 1
    in_space = False
    for j in range(i, last):
        if original[j].isspace():
            if not in_space:
                positions.append(j)
            in_space = True
        else:
            positions.append(j)
            in_space = False
    return positions


def _article_mapper(article: str, result: ParagraphResult) -> Callable[[int, int], tuple[int, int]] | None:
    if result.start is None or result.end is None:
        return None
    positions = normalized_positions(article, result.start, result.end)
    if len(positions) != len(result.text):  # not the text this paragraph came from: no article offsets
        return None

    def mapped(s: int, e: int) -> tuple[int, int]:
        return positions[s], positions[e - 1] + 1

    return mapped
