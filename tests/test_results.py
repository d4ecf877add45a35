import json

from modcls.results import ArticleResult, ParagraphResult


def paragraph(index, route, priority, **kw):
    return ParagraphResult(index=index, text=f"p{index}", topic="sport", topic_scores={"sport": 1.0},
                           sensitivity={"drugs": 0.1}, flags=[], route=route, priority=priority, **kw)


def test_article_takes_the_most_severe_route_and_lists_its_evidence():
    ps = [paragraph(0, "allow", "none"), paragraph(1, "review", "low"), paragraph(2, "review", "high"),
          paragraph(3, "review", "normal")]
    article = ArticleResult.from_paragraphs(ps)
    assert (article.route, article.priority) == ("review", "high")
    assert article.evidence == [1, 2, 3]
    ps.append(paragraph(4, "urgent_review", "urgent"))
    article = ArticleResult.from_paragraphs(ps)
    assert (article.route, article.evidence) == ("urgent_review", [4])


def test_allow_article_has_no_evidence():
    article = ArticleResult.from_paragraphs([paragraph(0, "allow", "none")])
    assert (article.route, article.priority, article.evidence) == ("allow", "none", [])
    assert ArticleResult.from_paragraphs([]).route == "allow"


def test_json_round_trip():
    article = ArticleResult.from_paragraphs([paragraph(0, "review", "low", start=3, end=9, reasons=["x"])],
                                            {"version": "v1"})
    data = json.loads(json.dumps(article.to_dict()))
    assert ArticleResult.from_dict(data) == article
    assert set(data["paragraphs"][0]) >= {"index", "start", "end", "text", "topic", "topic_scores",
                                          "sensitivity", "flags", "route", "priority", "reasons"}
