"""Whole articles through ``Moderator.moderate``: labels per paragraph against the written gold, with the
headline found and read as context, or every paragraph read alone (the context ablation).

Article rows (``format: articles`` in a training manifest) are rebuilt into raw text
(:func:`modcls.training.data.article_text`), moderated, and each segmented paragraph is matched to its gold
paragraph by text. Figures per role (headline, story, teaser, furniture): topic accuracy, and for each
category the F1 of its flags; plus routing: recall of paragraphs that must be reviewed, share of clean
paragraphs (no category, not crime_justice) routed to review, and whether the headline was found.
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from typing import Any

from ..labels import CATEGORIES
from ..segmentation import normalize_whitespace
from ..training.config import TrainingConfig
from ..training.data import apply_splits, article_text, load_examples, read_jsonl


def split_articles(config: TrainingConfig, split: str) -> list[dict[str, Any]]:
    """The article rows of ``config``'s manifest whose paragraphs the committed split puts in ``split``."""
    splits = json.loads(config.resolve(config.splits).read_text(encoding="utf-8"))
    wanted = {e.meta["article_id"] for e in apply_splits(load_examples(config), splits)[split]
              if e.meta.get("article_id")}
    out = []
    for item in config.data:
        if item.format == "articles":
            out += [a for a in read_jsonl(config.resolve(item.path)) if a["article_id"] in wanted]
    return out


def moderate_articles(moderator: Any, articles: Sequence[dict[str, Any]], with_context: bool = True) -> dict[str, Any]:
    """Figures of ``moderator`` on ``articles`` (see the module's docstring)."""
    counts: dict[str, dict[str, Any]] = {}
    headline_found = 0
    for article in articles:
        gold = {normalize_whitespace(p["text"]): p for p in article["paragraphs"]}
        if with_context:
            result = moderator.moderate(article_text(article))
            got = result.paragraphs
            head = result.headline
            headline_found += head is not None and gold.get(got[head].text, {}).get("role") == "headline"
        else:
            texts = [normalize_whitespace(p["text"]) for p in article["paragraphs"]]
            got = moderator.classify(texts)
        for p in got:
            g = gold.get(p.text)
            if g is None:
                continue
            for role in ("all", g["role"]):
                c = counts.setdefault(role, {"rows": 0, "topic_right": 0, "must": 0, "must_routed": 0,
                                             "clean": 0, "clean_routed": 0,
                                             "tp": dict.fromkeys(CATEGORIES, 0), "fp": dict.fromkeys(CATEGORIES, 0),
                                             "fn": dict.fromkeys(CATEGORIES, 0)})
                c["rows"] += 1
                c["topic_right"] += p.topic == g["topic"]
                must = any(g["sensitivity"].values()) or g["topic"] == "crime_justice"
                c["must"] += must
                c["must_routed"] += must and p.route != "allow"
                c["clean"] += not must
                c["clean_routed"] += (not must) and p.route != "allow"
                for cat in CATEGORIES:
                    flagged, truth = cat in p.flags, bool(g["sensitivity"].get(cat))
                    c["tp"][cat] += flagged and truth
                    c["fp"][cat] += flagged and not truth
                    c["fn"][cat] += truth and not flagged
    out: dict[str, Any] = {"articles": len(articles), "read_with_context": with_context}
    if with_context:
        out["headline_found"] = round(headline_found / max(len(articles), 1), 4)
    for role, c in counts.items():
        f1 = {}
        for cat in CATEGORIES:
            tp, fp, fn = c["tp"][cat], c["fp"][cat], c["fn"][cat]
            if tp + fn:
                f1[cat] = round(2 * tp / (2 * tp + fp + fn), 4)
        out[role] = {"paragraphs": c["rows"], "topic_accuracy": round(c["topic_right"] / c["rows"], 4),
                     "must_review_recall": round(c["must_routed"] / c["must"], 4) if c["must"] else None,
                     "clean_routed_share": round(c["clean_routed"] / c["clean"], 4) if c["clean"] else None,
                     "flag_f1": f1}
    return out
