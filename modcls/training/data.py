"""Labelled rows: reading the manifest's files, near-duplicate detection, the committed split."""

from __future__ import annotations

import json
import random
import re
import unicodedata
from collections import Counter
from collections.abc import Iterable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from ..labels import CATEGORIES, TOPICS, LabelError, check_category, check_topic
from .config import ConfigError, TrainingConfig

SPLITS = ("train", "validation", "test")

#: Split fractions (train, validation, test) per source; sources not listed use ``default``.
SPLIT_FRACTIONS: dict[str, tuple[float, float, float]] = {
    "modcls-authored": (0.8, 0.1, 0.1),
    "piaf_v1.1+modcls-labels": (0.55, 0.15, 0.30),
    "sib200_fra": (0.75, 0.10, 0.15),
    "piaf_v1.1": (0.75, 0.10, 0.15),
    "mhc_french": (0.70, 0.10, 0.20),
    "mlma_fr": (0.85, 0.15, 0.0),
    "modcls-authored-r2": (0.75, 0.1, 0.15),
    "modcls-articles": (0.7, 0.1, 0.2),
    "default": (0.8, 0.1, 0.1),
}
#: Sources whose rows are grouped by article (all paragraphs of one article go to one split).
GROUPED_BY_ARTICLE = {"piaf_v1.1", "piaf_v1.1+modcls-labels"}
NEAR_DUPLICATE_JACCARD = 0.8


@dataclass
class Example:
    """One labelled paragraph. ``topic`` None and categories absent from ``sensitivity`` are unknown.

    ``context`` is the article context the paragraph is read with (its headline), or None.
    """

    id: str
    text: str
    topic: str | None
    sensitivity: dict[str, int]
    source: str
    weight: float = 1.0
    meta: dict[str, Any] = field(default_factory=dict)
    context: str | None = None


def parse_example(row: dict[str, Any], where: str, weight: float = 1.0) -> Example:
    """Validate one data-schema row (see ``data/GUIDELINES.md``)."""
    try:
        text = row["text"]
        if not isinstance(text, str) or not text.strip():
            raise ConfigError(f"{where}: empty text")
        topic = row.get("topic")
        if topic is not None:
            check_topic(topic)
        sensitivity = {check_category(k): int(v) for k, v in (row.get("sensitivity") or {}).items()}
        if any(v not in (0, 1) for v in sensitivity.values()):
            raise ConfigError(f"{where}: sensitivity values must be 0 or 1")
        context = row.get("context")
        if context is not None and not isinstance(context, str):
            raise ConfigError(f"{where}: context must be a string")
        return Example(str(row["id"]), text, topic, sensitivity, str(row.get("source", "unknown")), weight,
                       dict(row.get("meta") or {}), context or None)
    except KeyError as err:
        raise ConfigError(f"{where}: missing field {err}") from None
    except LabelError as err:
        raise ConfigError(f"{where}: {err}") from None


def read_jsonl(path: Path) -> list[dict[str, Any]]:
    rows = []
    with open(path, encoding="utf-8") as f:
        for number, line in enumerate(f, start=1):
            if line.strip():
                try:
                    rows.append(json.loads(line))
                except json.JSONDecodeError as err:
                    raise ConfigError(f"{path}:{number}: not valid JSON ({err.msg})") from None
    return rows


ARTICLE_ROLES = ("headline", "story", "teaser", "furniture")


def article_examples(article: dict[str, Any], where: str, weight: float = 1.0) -> list[Example]:
    """The labelled paragraphs of one article row; every paragraph but the headline has it as context.

    An article row: ``{"article_id", "paragraphs": [{"text", "role", "topic", "sensitivity"}, ...]}`` with
    exactly one paragraph of role ``headline``. Paragraph ids are ``<article_id>-p<position>``.
    """
    try:
        article_id, paragraphs = str(article["article_id"]), article["paragraphs"]
    except KeyError as err:
        raise ConfigError(f"{where}: missing field {err}") from None
    heads = [p for p in paragraphs if p.get("role") == "headline"]
    if len(heads) != 1:
        raise ConfigError(f"{where}: an article needs exactly one headline paragraph, found {len(heads)}")
    out = []
    for k, p in enumerate(paragraphs):
        if p.get("role") not in ARTICLE_ROLES:
            raise ConfigError(f"{where}: paragraph {k}: role must be one of {', '.join(ARTICLE_ROLES)}")
        row = {"id": f"{article_id}-p{k:02d}", "text": p.get("text"), "topic": p.get("topic"),
               "sensitivity": p.get("sensitivity"), "source": article.get("source", "modcls-articles"),
               "meta": {"article_id": article_id, "position": k, "role": p["role"]},
               "context": None if p["role"] == "headline" else heads[0]["text"]}
        out.append(parse_example(row, f"{where}: paragraph {k}", weight))
    return out


def article_text(article: dict[str, Any]) -> str:
    """The raw text of an article row as a scraper would give it: paragraphs separated by blank lines."""
    return "\n\n".join(p["text"] for p in article["paragraphs"])


def load_examples(config: TrainingConfig, extra: Iterable[Path] = ()) -> list[Example]:
    """Every row of the manifest's files (plus ``extra`` files), texts joined in for label-only files."""
    examples: list[Example] = []
    for item in config.data:
        path = config.resolve(item.path)
        rows = read_jsonl(path)
        if item.format == "articles":
            for i, article in enumerate(rows):
                examples += article_examples(article, f"{path}:{i + 1}", item.weight)
            continue
        if item.format != "rows":
            raise ConfigError(f"{item.path}: format must be 'rows' or 'articles', got {item.format!r}")
        if item.text_from:
            texts = {r["id"]: r for r in read_jsonl(config.resolve(item.text_from))}
            joined = []
            for r in rows:
                if r["id"] not in texts:
                    raise ConfigError(f"{path}: id {r['id']} not found in {item.text_from}")
                src = texts[r["id"]]
                joined.append(src | r | {"text": src["text"], "source": f"{src['source']}+modcls-labels"})
            rows = joined
        examples += [parse_example(r, f"{path}:{i + 1}", item.weight) for i, r in enumerate(rows)]
    for path in extra:
        examples += [parse_example(r, f"{path}:{i + 1}") for i, r in enumerate(read_jsonl(Path(path)))]
    ids = Counter(e.id for e in examples)
    dup = [i for i, n in ids.items() if n > 1]
    if dup:
        raise ConfigError(f"duplicate ids in the data: {', '.join(dup[:5])}")
    return examples


# -- near-duplicates ---------------------------------------------------------------------------------
def dedup_key(text: str) -> str:
    """Case, accents-preserving normalisation used to compare texts: NFKC, casefold, words only."""
    text = unicodedata.normalize("NFKC", text).casefold()
    return " ".join(re.findall(r"\w+", text))


def near_duplicate_pairs(texts: list[str], threshold: float = NEAR_DUPLICATE_JACCARD) -> list[tuple[int, int, float]]:
    """Pairs ``(i, j, jaccard)`` with i < j whose character 5-gram Jaccard similarity is >= threshold."""
    import numpy as np
    from sklearn.feature_extraction.text import HashingVectorizer

    keys = [dedup_key(t) for t in texts]
    vec = HashingVectorizer(analyzer="char", ngram_range=(5, 5), n_features=2**22, binary=True, norm=None,
                            alternate_sign=False)
    x = vec.transform(keys).tocsr()
    x.data[:] = 1.0
    sizes = np.asarray(x.sum(1)).ravel()
    pairs = []
    step = 512
    for start in range(0, x.shape[0], step):
        inter = (x[start : start + step] @ x.T).tocoo()
        for i, j, v in zip(inter.row + start, inter.col, inter.data):
            if i < j:
                jac = v / max(sizes[i] + sizes[j] - v, 1)
                if jac >= threshold:
                    pairs.append((int(i), int(j), float(jac)))
    return pairs


def distinct_ngram_ratio(texts: Iterable[str], n: int = 4) -> float:
    """Distinct word n-grams over all word n-grams: low values mean templated text."""
    seen, total = set(), 0
    for text in texts:
        words = dedup_key(text).split()
        grams = [tuple(words[i : i + n]) for i in range(len(words) - n + 1)]
        total += len(grams)
        seen.update(grams)
    return len(seen) / max(total, 1)


# -- split ---------------------------------------------------------------------------------------------
def make_splits(examples: list[Example], seed: int) -> dict[str, Any]:
    """Deduplicate, then assign every row to train/validation/test by a fixed seed.

    Near-duplicates of an earlier row (manifest order) are dropped; article-grouped sources keep each
    article in one split. The result is meant to be written once and committed (``data/splits.json``).
    """
    dropped: dict[str, str] = {}
    pairs = near_duplicate_pairs([e.text for e in examples])
    for i, j, jac in sorted(pairs, key=lambda p: (p[1], p[0])):
        if examples[i].meta.get("pair") and examples[i].meta.get("pair") == examples[j].meta.get("pair"):
            continue  # the halves of a minimal pair differ by one fact on purpose
        if examples[i].id not in dropped:
            dropped.setdefault(examples[j].id, f"near-duplicate of {examples[i].id} (jaccard {jac:.2f})")
    rng = random.Random(seed)
    assignment: dict[str, str] = {}
    by_source: dict[str, list[Example]] = {}
    for e in examples:
        if e.id not in dropped:
            by_source.setdefault(e.source, []).append(e)
    for source in sorted(by_source):
        groups: dict[str, list[str]] = {}
        for e in by_source[source]:
            groups.setdefault(_group(e), []).append(e.id)
        _assign(groups, source, rng, assignment)
    return {
        "seed": seed,
        "near_duplicate_jaccard": NEAR_DUPLICATE_JACCARD,
        "counts": dict(Counter(assignment.values())),
        "dropped": dropped,
        "splits": dict(sorted(assignment.items())),
    }


def _assign(groups: dict[str, list[str]], source: str, rng: random.Random, assignment: dict[str, str]) -> None:
    """Shuffle ``groups`` with ``rng`` and give each group's rows a split by the source's fractions."""
    fractions = SPLIT_FRACTIONS.get(source, SPLIT_FRACTIONS["default"])
    names = sorted(groups)
    rng.shuffle(names)
    n_train = round(len(names) * fractions[0])
    n_val = round(len(names) * fractions[1])
    for k, name in enumerate(names):
        split = "train" if k < n_train else "validation" if k < n_train + n_val else "test"
        for row_id in groups[name]:
            assignment[row_id] = split


def _group(e: Example) -> str:
    """The unit a split keeps together: a minimal pair, an article, a PIAF article, else the row."""
    if e.meta.get("pair"):
        return f"pair:{e.meta['pair']}"
    if e.meta.get("article_id"):
        return str(e.meta["article_id"])
    if e.source in GROUPED_BY_ARTICLE:
        return e.id.rsplit("-", 1)[0]
    return e.id


def extend_splits(examples: list[Example], splits: dict[str, Any], seed: int) -> dict[str, Any]:
    """Assign rows the committed split does not know yet, leaving every known row where it is.

    New rows that nearly duplicate a known row or an earlier new row are dropped, except within one
    group (the two halves of a minimal pair are near-duplicates by design). Groups (pairs, articles)
    go to one split; each source is shuffled with its own seed, so adding a source moves no other row.
    """
    assignment = dict(splits["splits"])
    dropped = dict(splits.get("dropped", {}))
    known = [e for e in examples if e.id in assignment or e.id in dropped]
    fresh = [e for e in examples if e.id not in assignment and e.id not in dropped]
    if not fresh:
        return splits
    pool = known + fresh
    offset = len(known)
    for i, j, jac in sorted(near_duplicate_pairs([e.text for e in pool]), key=lambda p: (p[1], p[0])):
        if j < offset or pool[j].id in dropped or pool[i].id in dropped:
            continue
        if _group(pool[i]) == _group(pool[j]):
            continue
        dropped[pool[j].id] = f"near-duplicate of {pool[i].id} (jaccard {jac:.2f})"
    by_source: dict[str, dict[str, list[str]]] = {}
    for e in fresh:
        if e.id not in dropped:
            by_source.setdefault(e.source, {}).setdefault(_group(e), []).append(e.id)
    # A group some of whose rows were dropped keeps its other rows together.
    for source in sorted(by_source):
        _assign(by_source[source], source, random.Random(f"{seed}:{source}"), assignment)
    return {**splits, "counts": dict(Counter(assignment.values())), "dropped": dropped,
            "splits": dict(sorted(assignment.items()))}


def apply_splits(examples: list[Example], splits: dict[str, Any]) -> dict[str, list[Example]]:
    """Rows per split by the committed assignment; rows the split does not know are an error."""
    assignment = splits["splits"]
    dropped = splits.get("dropped", {})
    out: dict[str, list[Example]] = {s: [] for s in SPLITS}
    unknown = [e.id for e in examples if e.id not in assignment and e.id not in dropped]
    if unknown:
        raise ConfigError(
            f"{len(unknown)} rows are in no split (e.g. {unknown[0]}): regenerate data/splits.json "
            "with `python training/make_splits.py` on purpose"
        )
    for e in examples:
        if e.id in assignment:
            out[assignment[e.id]].append(e)
    return out


def corpus_stats(examples: list[Example]) -> dict[str, Any]:
    """Counts per label, hard negatives, formats, near-duplicate rate and distinct 4-gram ratio."""
    pairs = near_duplicate_pairs([e.text for e in examples])
    in_pair = {j for _, j, _ in pairs}
    return {
        "rows": len(examples),
        "topics": {t: sum(e.topic == t for e in examples) for t in TOPICS},
        "positives": {c: sum(e.sensitivity.get(c) == 1 for e in examples) for c in CATEGORIES},
        "hard_negatives": sum(bool(e.meta.get("hard_negative")) for e in examples),
        "formats": dict(Counter(e.meta.get("format", "?") for e in examples).most_common()),
        "near_duplicate_rows": len(in_pair),
        "near_duplicate_rate": round(len(in_pair) / max(len(examples), 1), 4),
        "distinct_4gram_ratio": round(distinct_ngram_ratio(e.text for e in examples), 4),
        "mean_words": round(sum(len(e.text.split()) for e in examples) / max(len(examples), 1), 1),
    }


def drop_contexts(examples: list[Example], share: float, seed: int) -> list[Example]:
    """The rows, with the context of a fixed share of those that have one removed (chosen by id and seed)."""
    import dataclasses
    import hashlib

    out = []
    for e in examples:
        if e.context and share > 0:
            draw = int(hashlib.sha256(f"{seed}:{e.id}".encode()).hexdigest()[:8], 16) / 0xFFFFFFFF
            if draw < share:
                e = dataclasses.replace(e, context=None)
        out.append(e)
    return out


def limit_rows(splits: dict[str, list[Example]], limit: int | None, seed: int) -> dict[str, list[Example]]:
    """At most ``limit`` rows of each split: a sample fixed by ``seed`` and the row ids, in split order."""
    if limit is None:
        return splits
    if limit < 1:
        raise ConfigError(f"limit_rows must be at least 1, got {limit}")
    out = {}
    for name, rows in splits.items():
        if len(rows) <= limit:
            out[name] = rows
            continue
        keep = set(random.Random(f"{seed}:{name}").sample(sorted(e.id for e in rows), limit))
        out[name] = [e for e in rows if e.id in keep]
    return out
