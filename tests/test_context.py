"""Article context: read beside a paragraph, pooled out, ignored by models trained without it."""

import json

import numpy as np
import pytest
import torch

from modcls.engines.compact import load_engine
from modcls.inference import Predictor, context_segment
from modcls.modeling import ModclsModel
from modcls.moderator import Moderator
from modcls.policy import Policy
from modcls.training.data import Example, article_examples, article_text, drop_contexts, extend_splits

PARAGRAPHS = ["la police et le procès", "le match de football à la télévision", "pluie et soleil"]
HEADLINE = "le procès du meurtre à la école"


@pytest.fixture(scope="module")
def context_model_dir(tiny_base, tmp_path_factory):
    torch.manual_seed(1)
    model = ModclsModel.from_base(str(tiny_base), model_version="tiny-context", window_tokens=64, context_tokens=8)
    model.config.policy = Policy().to_dict()
    folder = tmp_path_factory.mktemp("tiny_context_model")
    model.save_pretrained(folder)
    return folder


@pytest.fixture
def home(tmp_path, monkeypatch):
    monkeypatch.setenv("MODCLS_HOME", str(tmp_path / "home"))


def _diff(a, b):
    return max(max(abs(x.topic - y.topic).max(), abs(x.sensitivity - y.sensitivity).max()) for x, y in zip(a, b))


def test_context_segment_follows_the_paragraph_and_is_cut():
    assert context_segment([0, 5, 6, 7, 2], 2) == [2, 5, 6, 2]
    assert context_segment([0, 2], 8) == []


def test_context_changes_scores_but_pooling_covers_the_paragraph_only(context_model_dir):
    predictor = Predictor.from_pretrained(context_model_dir, cache_size=0)
    assert predictor.reads_context
    alone = predictor.predict(PARAGRAPHS)
    read = predictor.predict(PARAGRAPHS, contexts=[HEADLINE] * 3)
    assert _diff(alone, read) > 1e-4  # the paragraph attends to its context
    # Pooling over paragraph tokens: a context made of padding-free junk still gives finite, valid scores.
    for s in read:
        assert np.isclose(s.topic.sum(), 1.0, atol=1e-5) and ((s.sensitivity >= 0) & (s.sensitivity <= 1)).all()
    # Same text, different context: a different cache entry.
    cached = Predictor.from_pretrained(context_model_dir)
    assert _diff(cached.predict(PARAGRAPHS[:1]), cached.predict(PARAGRAPHS[:1], contexts=[HEADLINE])) > 1e-4


def test_a_model_without_context_support_ignores_context(tiny_model_dir):
    predictor = Predictor.from_pretrained(tiny_model_dir, cache_size=0)
    assert not predictor.reads_context
    assert _diff(predictor.predict(PARAGRAPHS), predictor.predict(PARAGRAPHS, contexts=[HEADLINE] * 3)) == 0


def test_fast_engine_agrees_with_fp32_with_context(context_model_dir, home):
    ref = Predictor.from_pretrained(context_model_dir, cache_size=0).predict(PARAGRAPHS, contexts=[HEADLINE] * 3)
    fast = Predictor.from_engine(load_engine(context_model_dir, dtype=torch.float32), cache_size=0)
    assert _diff(ref, fast.predict(PARAGRAPHS, contexts=[HEADLINE] * 3, batch_size=2)) < 1e-3


def test_long_paragraph_windows_each_carry_the_context(context_model_dir):
    predictor = Predictor.from_pretrained(context_model_dir, cache_size=0)
    long = ". ".join(["la police et le procès du meurtre"] * 30) + "."
    [scores] = predictor.predict([long], contexts=[HEADLINE])
    assert scores.chunks > 1


def test_moderate_reads_paragraphs_with_the_headline(context_model_dir):
    moderator = Moderator.from_pretrained(context_model_dir)
    article = "\n\n".join([HEADLINE, *PARAGRAPHS])
    result = moderator.moderate(article)
    assert result.headline is not None
    expected = moderator.classify(PARAGRAPHS, context=result.paragraphs[result.headline].text)
    others = [p for p in result.paragraphs if p.index != result.headline]
    for got, want in zip(others[-3:], expected):
        assert got.sensitivity == want.sensitivity and got.topic_scores == want.topic_scores
    assert result.to_dict()["headline"] == result.headline


def test_classify_checks_the_contexts(context_model_dir):
    from modcls.errors import InputError

    moderator = Moderator.from_pretrained(context_model_dir)
    with pytest.raises(InputError, match="2 contexts given for 3 paragraphs"):
        moderator.classify(PARAGRAPHS, context=[HEADLINE, None])


def test_article_rows_expand_with_the_headline_as_context():
    zeros = dict.fromkeys(["child_sexual_abuse", "sexual_violence", "violent_crime", "terrorism", "drugs",
                           "self_harm", "hate_speech"], 0)
    article = {"article_id": "modcls:art-1", "paragraphs": [
        {"text": "Par Anne", "role": "furniture", "topic": "non_editorial", "sensitivity": zeros},
        {"text": "Un titre", "role": "headline", "topic": "crime_justice", "sensitivity": zeros},
        {"text": "L'enquête continue.", "role": "story", "topic": "crime_justice", "sensitivity": zeros}]}
    rows = article_examples(article, "a.jsonl:1")
    assert [r.id for r in rows] == ["modcls:art-1-p00", "modcls:art-1-p01", "modcls:art-1-p02"]
    assert [r.context for r in rows] == ["Un titre", None, "Un titre"]
    assert article_text(article).split("\n\n")[1] == "Un titre"
    kept = drop_contexts(rows * 1, 0.0, 13)
    assert [r.context for r in kept] == [r.context for r in rows]
    assert all(r.context is None for r in drop_contexts(rows, 1.0, 13))


def _row(i, text, **meta):
    return Example(i, text, "politics", {}, "modcls-authored-r2", meta=meta)


def test_extend_splits_keeps_known_rows_and_pairs_together():
    known = [_row(f"k{i}", f"un texte connu numéro {i} sur la politique locale") for i in range(20)]
    splits = {"seed": 13, "splits": {e.id: "test" for e in known}, "dropped": {}}
    words = ["maire", "juge", "port", "usine", "lycée", "stade", "forêt", "musée", "banque", "église"]
    fresh = [_row(f"n{i}{h}", f"{w} " * 8 + f"récit {h} " * 3, pair=f"p{i}")
             for i, w in enumerate(words) for h in "ab"]
    copy = _row("dup", known[0].text + " ")
    out = extend_splits(known + fresh + [copy], json.loads(json.dumps(splits)), seed=13)
    assert all(out["splits"][e.id] == "test" for e in known)
    assert "dup" in out["dropped"]
    for i in range(10):
        assert out["splits"][f"n{i}a"] == out["splits"][f"n{i}b"]  # a pair's halves stay in one split


def test_moderate_articles_reports_roles_with_and_without_context(context_model_dir):
    from modcls.evaluation.articles import moderate_articles

    zeros = dict.fromkeys(["child_sexual_abuse", "sexual_violence", "violent_crime", "terrorism", "drugs",
                           "self_harm", "hate_speech"], 0)
    article = {"article_id": "a1", "paragraphs": [
        {"text": HEADLINE, "role": "headline", "topic": "crime_justice", "sensitivity": zeros | {"violent_crime": 1}},
        {"text": PARAGRAPHS[0], "role": "story", "topic": "crime_justice", "sensitivity": zeros},
        {"text": PARAGRAPHS[1], "role": "teaser", "topic": "sport", "sensitivity": zeros}]}
    moderator = Moderator.from_pretrained(context_model_dir)
    read = moderate_articles(moderator, [article])
    alone = moderate_articles(moderator, [article], with_context=False)
    assert read["all"]["paragraphs"] == alone["all"]["paragraphs"] == 3
    assert set(read) >= {"headline", "story", "teaser", "headline_found"} and "headline_found" not in alone
    assert 0 <= read["teaser"]["topic_accuracy"] <= 1
