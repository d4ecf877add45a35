"""A queue that learns: uncertainty order, the reviewers' report, exports that keep the model's scores, how
a retrained model moved on reviewed rows, readable items, and the in-place upgrade of a schema-1 queue."""

from __future__ import annotations

import json
import sqlite3

import pytest

pytest.importorskip("sqlalchemy")

from modcls.cli import main  # noqa: E402
from modcls.labels import CATEGORIES  # noqa: E402
from modcls.results import Evidence, ParagraphResult  # noqa: E402
from modcls.review.export import training_row  # noqa: E402
from modcls.review.movement import movement  # noqa: E402
from modcls.review.store import ReviewError, ReviewQueue  # noqa: E402

THRESHOLDS = {c: 0.5 for c in CATEGORIES}


def result(index: int, drugs: float, priority: str = "normal", text: str | None = None) -> ParagraphResult:
    sens = {c: 0.0 for c in CATEGORIES} | {"drugs": drugs}
    return ParagraphResult(index=index, text=text or f"Paragraphe {index}. Cocaïne saisie.", topic="crime_justice",
                           topic_scores={"crime_justice": 0.8, "politics": 0.2}, sensitivity=sens, flags=["drugs"],
                           route="review", priority=priority, reasons=["drugs"],
                           evidence=[Evidence("drugs", 14, 30, "Cocaïne saisie.", drugs)])


def test_uncertainty_order_within_a_priority_level(tmp_path):
    with ReviewQueue(tmp_path / "q.sqlite") as queue:
        queue.enqueue([result(0, 0.95), result(1, 0.55), result(2, 0.7), result(3, 0.99, "high")],
                      article_id="a", model_version="m", thresholds=THRESHOLDS)
        queue.enqueue([result(4, 0.52)], article_id="b", model_version="m")  # no thresholds: no margin, last
        assert queue.get(2).margin == pytest.approx(0.05)
        assert [queue.next(f"r{k}", order="uncertainty").paragraph_index for k in range(5)] == [3, 1, 2, 0, 4]
    with ReviewQueue(tmp_path / "p.sqlite") as queue:
        queue.enqueue([result(0, 0.95), result(1, 0.55)], article_id="a", model_version="m", thresholds=THRESHOLDS)
        assert queue.next("r").paragraph_index == 0  # the default stays oldest first
        with pytest.raises(ReviewError, match="unknown review order"):
            queue.next("s", order="random")


def test_items_keep_evidence_and_article_context(tmp_path):
    with ReviewQueue(tmp_path / "q.sqlite") as queue:
        results = [result(k, 0.9) for k in range(6)]
        ids = queue.enqueue(results, article_id="a", model_version="m", headline="Titre", headline_index=0)
        item = queue.get(ids[3])
        assert item.evidence == [{"label": "drugs", "start": 14, "end": 30, "text": "Cocaïne saisie.", "score": 0.9,
                                  "article_start": None, "article_end": None}]
        assert item.context["headline"] == "Titre"
        assert [p["index"] for p in item.context["before"]] == [1, 2]
        assert [p["index"] for p in item.context["after"]] == [4, 5]
        assert queue.get(ids[0]).context["headline"] is None  # the headline itself


def test_report_counts_days_reviewers_and_agreement(tmp_path):
    with ReviewQueue(tmp_path / "q.sqlite") as queue:
        ids = queue.enqueue([result(k, 0.9) for k in range(3)], article_id="a", model_version="m")
        for k, who in enumerate(["alice", "bob", "alice"]):
            queue.next(who)
            if k == 1:
                queue.decide(ids[k], who, "correct", topic="politics", categories=["drugs", "violent_crime"])
            elif k == 2:
                queue.decide(ids[k], who, "correct", categories=[])
            else:
                queue.decide(ids[k], who, "confirm")
        report = queue.report(days=3)
    assert sum(report["decisions_per_day"].values()) == 3 and len(report["decisions_per_day"]) == 3
    assert report["decisions_by_reviewer"] == {"alice": 2, "bob": 1}
    agreement = report["agreement"]
    assert agreement["decisions"] == 3 and agreement["topic"] == pytest.approx(2 / 3, abs=1e-4)
    assert agreement["categories"]["drugs"] == {"both": 2, "model_only": 1, "reviewer_only": 0, "neither": 0,
                                                "agreement": pytest.approx(2 / 3, abs=1e-4)}
    assert agreement["categories"]["violent_crime"]["reviewer_only"] == 1


def test_export_keeps_predictions_and_movement_reads_them(tmp_path):
    with ReviewQueue(tmp_path / "q.sqlite") as queue:
        ids = queue.enqueue([result(0, 0.6), result(1, 0.9)], article_id="a", model_version="m")
        queue.next("a")
        queue.decide(ids[0], "a", "correct", categories=[])
        queue.next("a")
        queue.decide(ids[1], "a", "confirm")
        rows = [training_row(item, queue.queue_id) for item in queue.decisions()]
    assert rows[0]["meta"]["model_sensitivity"]["drugs"] == 0.6
    assert rows[0]["meta"]["model_topic_scores"] == {"crime_justice": 0.8, "politics": 0.2}
    retrained = [result(0, 0.2), result(1, 0.95)]
    retrained[0].flags = []
    moved = movement(rows, retrained)
    assert moved["rows"] == 2
    assert moved["categories"]["drugs"] == {"before": 0.5, "after": 1.0, "flips": 1, "moved": pytest.approx(0.225)}
    assert moved["topic"] == {"before": 1.0, "after": 1.0}


def test_review_compare_and_readable_next(tmp_path, capsys, tiny_model_dir):
    db = tmp_path / "q.sqlite"
    with ReviewQueue(db) as queue:
        queue.enqueue([result(0, 0.9, text="La police a saisi de la drogue. Le match de football.")],
                      article_id="a1", model_version="m", headline="Le procès", headline_index=None)
    assert main(["review", "next", "--reviewer", "alice", "--db", str(db)]) == 0
    shown = capsys.readouterr().out
    assert "item 1  review (normal)" in shown and "> drugs 0.90 (alone): Cocaïne saisie." in shown
    assert "headline: Le procès" in shown and len(shown.splitlines()) < 15
    assert main(["review", "decide", "1", "correct", "--reviewer", "alice", "--categories", "", "--db", str(db)]) == 0
    out = tmp_path / "new.jsonl"
    assert main(["review", "export", "--db", str(db), "--out", str(out)]) == 0
    capsys.readouterr()
    assert main(["review", "compare", str(out), "--model", str(tiny_model_dir)]) == 0
    report = json.loads(capsys.readouterr().out)
    assert report["model"] == "tiny-test" and report["rows"] == 1 and report["categories"]["drugs"]["before"] == 0.0


def test_schema_1_queue_is_upgraded_in_place(tmp_path):
    db = tmp_path / "old.sqlite"
    with ReviewQueue(db) as queue:
        queue.enqueue([result(0, 0.9)], article_id="a", model_version="m")
    con = sqlite3.connect(db)  # make it look like a queue written by the previous release
    for column in ("evidence", "context", "margin"):
        con.execute(f"ALTER TABLE modcls_review_items DROP COLUMN {column}")
    con.execute("UPDATE modcls_review_meta SET value='1' WHERE key='schema_version'")
    con.commit()
    con.close()
    with ReviewQueue(db) as queue:
        item = queue.next("alice")
        assert item.evidence == [] and item.context is None and item.margin is None
        queue.enqueue([result(1, 0.6)], article_id="a", model_version="m", thresholds=THRESHOLDS)
        assert queue.get(2).margin == pytest.approx(0.1)
    con = sqlite3.connect(db)
    assert con.execute("SELECT value FROM modcls_review_meta WHERE key='schema_version'").fetchone() == ("2",)
    con.close()
