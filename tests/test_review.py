"""The review queue (SQLite, and PostgreSQL when MODCLS_TEST_POSTGRES_URL is set), its CLI and export,
and the end-to-end loop: moderate -> queue -> decide -> export -> retrain."""

from __future__ import annotations

import hashlib
import json
import os
import sqlite3
import threading
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest

pytest.importorskip("sqlalchemy")

from modcls.cli import main  # noqa: E402
from modcls.labels import CATEGORIES  # noqa: E402
from modcls.results import ParagraphResult  # noqa: E402
from modcls.review.export import export_decisions, training_row  # noqa: E402
from modcls.review.store import Conflict, NotFound, ReviewError, ReviewQueue, metadata  # noqa: E402
from tests.conftest import write_jsonl  # noqa: E402

PG_URL = os.environ.get("MODCLS_TEST_POSTGRES_URL")
PG_SKIP = "MODCLS_TEST_POSTGRES_URL is not set: no PostgreSQL server (.ci/run starts one)"


class Clock:
    def __init__(self) -> None:
        self.now = datetime(2025, 3, 14, 12, 0, tzinfo=UTC)

    def __call__(self) -> datetime:
        return self.now


def result(index: int, route: str, priority: str, text: str | None = None, flags=("drugs",)) -> ParagraphResult:
    return ParagraphResult(
        index=index, text=text or f"paragraphe {index}", topic="crime_justice",
        topic_scores={"crime_justice": 0.9, "politics": 0.1}, sensitivity={c: 0.1 for c in CATEGORIES},
        flags=list(flags), route=route, priority=priority, reasons=["test"],
    )


def _pg_queue(**kwargs) -> ReviewQueue:
    from sqlalchemy import create_engine

    from modcls.review.store import _make_engine

    engine = _make_engine(PG_URL) if PG_URL else create_engine("sqlite://")
    metadata.drop_all(engine)
    engine.dispose()
    return ReviewQueue(PG_URL, **kwargs)


@pytest.fixture(params=["sqlite", pytest.param("postgresql", marks=pytest.mark.skipif(not PG_URL, reason=PG_SKIP))])
def make_queue(request, tmp_path):
    """A factory of queues on one fresh database; several queues on it act as several server processes."""
    opened: list[ReviewQueue] = []
    fresh = {"done": False}

    def make(**kwargs) -> ReviewQueue:
        if request.param == "sqlite":
            q = ReviewQueue(tmp_path / "review.sqlite", **kwargs)
        elif not fresh["done"]:
            q = _pg_queue(**kwargs)
        else:
            q = ReviewQueue(PG_URL, **kwargs)
        fresh["done"] = True
        opened.append(q)
        return q

    yield make
    for q in opened:
        q.close()


def test_enqueue_keeps_routed_paragraphs_once(make_queue):
    queue = make_queue()
    batch = [result(0, "review", "low"), result(1, "allow", "none"), result(2, "urgent_review", "urgent")]
    ids = queue.enqueue(batch, article_id="a1", model_version="m1", paragraph_ids=["p0", "p1", "p2"])
    assert len(ids) == 2
    assert queue.enqueue(batch, article_id="a1", model_version="m1", paragraph_ids=["p0", "p1", "p2"]) == ids
    items = queue.items_for_article("a1")
    assert [(i.paragraph_index, i.paragraph_id, i.route, i.priority) for i in items] == [
        (0, "p0", "review", "low"), (2, "p2", "urgent_review", "urgent")]
    assert items[0].sensitivity["drugs"] == 0.1 and items[0].topic_scores["crime_justice"] == 0.9
    assert items[0].model_version == "m1" and items[0].status == "pending"
    assert queue.stats()["pending"] == 2


def test_next_goes_by_priority_then_age(make_queue):
    queue = make_queue()
    queue.enqueue([result(0, "review", "low"), result(1, "review", "high")], article_id="a", model_version="m")
    queue.enqueue([result(0, "review", "normal"), result(1, "urgent_review", "urgent")], article_id="b",
                  model_version="m")
    queue.enqueue([result(0, "review", "high")], article_id="c", model_version="m")
    order = []
    for reviewer in ("r1", "r2", "r3", "r4", "r5"):
        item = queue.next(reviewer)
        order.append((item.article_id, item.priority))
    assert order == [("b", "urgent"), ("a", "high"), ("c", "high"), ("b", "normal"), ("a", "low")]
    assert queue.next("r6") is None


def test_lease_is_exclusive_renewed_and_expires(make_queue):
    clock = Clock()
    queue = make_queue(lease_seconds=60, clock=clock)
    queue.enqueue([result(0, "review", "high"), result(1, "review", "low")], article_id="a", model_version="m")
    first = queue.next("alice")
    assert first.lease_owner == "alice" and first.priority == "high"
    assert queue.next("alice").id == first.id  # a retried call returns the item held
    assert queue.next("bob").id != first.id
    with pytest.raises(Conflict, match="leased to another reviewer"):
        queue.decide(first.id, "bob", "confirm")
    clock.now += timedelta(seconds=61)
    taken = queue.next("carol")
    assert taken.id == first.id and taken.lease_owner == "carol" and taken.leases == 2
    with pytest.raises(Conflict, match="leased to another reviewer"):
        queue.decide(first.id, "alice", "confirm")
    queue.release(taken.id, "carol")
    assert queue.get(taken.id).status == "pending"


def test_decisions_validate_and_record(make_queue):
    queue = make_queue()
    queue.enqueue([result(0, "review", "high", flags=("drugs", "violent_crime"))], article_id="a", model_version="m")
    item = queue.next("alice")
    with pytest.raises(ReviewError, match="takes no topic"):
        queue.decide(item.id, "alice", "confirm", topic="sport")
    with pytest.raises(ReviewError, match="needs a topic"):
        queue.decide(item.id, "alice", "correct")
    with pytest.raises(ReviewError, match="unknown topic"):
        queue.decide(item.id, "alice", "correct", topic="cooking")
    with pytest.raises(ReviewError, match="unknown sensitivity category"):
        queue.decide(item.id, "alice", "correct", categories=["spam"])
    with pytest.raises(ReviewError, match="unknown decision"):
        queue.decide(item.id, "alice", "maybe")
    with pytest.raises(NotFound):
        queue.decide(999, "alice", "confirm")
    done = queue.decide(item.id, "alice", "correct", categories=["drugs"], note="pas de violence")
    assert done.status == "decided" and done.reviewer == "alice" and done.decided_topic == "crime_justice"
    assert done.decided_sensitivity == {c: int(c == "drugs") for c in CATEGORIES}
    assert done.note == "pas de violence" and done.decided_at is not None
    with pytest.raises(Conflict, match="already decided"):
        queue.decide(item.id, "alice", "confirm")


def test_concurrent_reviewers_never_share_an_item(make_queue):
    queues = [make_queue(), make_queue()]  # two "processes" on one database
    queues[0].enqueue([result(i, "review", "normal") for i in range(30)], article_id="a", model_version="m")
    taken: list[int] = []
    errors: list[BaseException] = []

    def work(reviewer: str, queue: ReviewQueue) -> None:
        try:
            while (item := queue.next(reviewer)) is not None:
                taken.append(item.id)
                queue.decide(item.id, reviewer, "confirm")
        except BaseException as err:  # noqa: BLE001
            errors.append(err)

    threads = [threading.Thread(target=work, args=(f"r{k}", queues[k % 2])) for k in range(4)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(60)
    assert not errors
    assert sorted(taken) == sorted(set(taken)) and len(taken) == 30
    assert queues[1].stats()["decided"] == 30


def test_export_rows_follow_the_data_schema(make_queue, tmp_path):
    from modcls.training.data import parse_example

    clock = Clock()
    queue = make_queue(clock=clock)
    queue.enqueue([result(0, "review", "high", "Dix kilos de cocaïne saisis."), result(1, "review", "low")],
                  article_id="art-7", model_version="tiny-test")
    a = queue.next("alice")
    queue.decide(a.id, "alice", "confirm")
    clock.now += timedelta(days=2)
    b = queue.next("bob")
    queue.decide(b.id, "bob", "correct", topic="politics", categories=[], note="débat politique")
    out = tmp_path / "new.jsonl"
    with open(out, "w", encoding="utf-8") as f:
        assert export_decisions(queue, f, since="2025-03-15", license="CC-BY-4.0") == 1
    rows = [json.loads(line) for line in out.read_text(encoding="utf-8").splitlines()]
    assert len(rows) == 1
    row = rows[0]
    assert row["id"] == f"modcls-review:{queue.queue_id}-{b.id}" and row["text"] == b.text
    assert row["topic"] == "politics" and row["sensitivity"] == {c: 0 for c in CATEGORIES}
    assert row["source"] == "modcls-review" and row["license"] == "CC-BY-4.0"
    assert {"reviewer", "decided_at", "note", "model_version"} <= set(row["meta"])
    assert row["meta"]["reviewer"] == "bob" and row["meta"]["model_version"] == "tiny-test"
    assert row["meta"]["note"] == "débat politique" and row["meta"]["article_id"] == "art-7"
    example = parse_example(row, "export")
    assert example.topic == "politics" and example.sensitivity["drugs"] == 0
    confirmed = training_row(queue.get(a.id), queue.queue_id)
    assert confirmed["topic"] == "crime_justice" and confirmed["sensitivity"]["drugs"] == 1
    assert confirmed["license"] == "unspecified"
    with pytest.raises(ReviewError, match="not a date"):
        list(queue.decisions("yesterday"))


def test_review_cli(tmp_path, capsys):
    db = tmp_path / "q.sqlite"
    with ReviewQueue(db) as queue:
        queue.enqueue([result(0, "urgent_review", "urgent", "Un texte à revoir.")], article_id="a", model_version="m")

    def run(*args):
        code = main(["review", *args, "--db", str(db)])
        captured = capsys.readouterr()
        return code, captured.out, captured.err

    code, out, _ = run("stats")
    assert code == 0 and json.loads(out)["pending"] == 1
    code, out, _ = run("next", "--reviewer", "alice", "--json")
    item = json.loads(out)
    assert code == 0 and item["text"] == "Un texte à revoir." and item["lease_owner"] == "alice"
    code, _, err = run("decide", str(item["id"]), "correct", "--reviewer", "bob", "--topic", "politics")
    assert code == 1 and "leased to another reviewer" in err
    code, _, err = run("decide", str(item["id"]), "correct", "--reviewer", "alice", "--topic", "nope")
    assert code == 1 and "unknown topic" in err
    code, out, _ = run("decide", str(item["id"]), "correct", "--reviewer", "alice", "--categories",
                       "child_sexual_abuse, sexual_violence", "--note", "ok")
    assert code == 0 and json.loads(out)["decided_sensitivity"]["sexual_violence"] == 1
    code, _, err = run("next", "--reviewer", "alice")
    assert code == 0 and "nothing waits" in err
    code, _, err = run("export", "--since", "2000-01-01", "--out", str(tmp_path / "new.jsonl"), "--license", "x")
    assert code == 0 and "1 decisions exported" in err
    assert json.loads((tmp_path / "new.jsonl").read_text())["license"] == "x"
    code, _, err = run("show", "42")
    assert code == 1 and "no review item 42" in err


def test_sqlite_file_is_wal():
    import tempfile

    with tempfile.TemporaryDirectory() as folder:
        path = Path(folder) / "q.sqlite"
        ReviewQueue(path).close()
        with sqlite3.connect(path) as conn:
            assert conn.execute("PRAGMA journal_mode").fetchone()[0] == "wal"


# -- end to end ---------------------------------------------------------------------------------------
def _tiny_training_config(tmp_path: Path, tiny_base: Path):
    from modcls.training.config import DataFile, TrainingConfig

    texts = [
        ("la police a mis en examen un homme pour meurtre", "crime_justice", {"violent_crime": 1}),
        ("le tribunal a condamné un homme pour drogue et cocaïne", "crime_justice", {"drugs": 1}),
        ("le match de football : but pour l'équipe", "sport", {}),
        ("élection : le gouvernement et le ministre", "politics", {}),
        ("pluie et soleil : la météo", "weather", {}),
        ("abonnez-vous à la newsletter", "non_editorial", {}),
        ("procès pour viol : la femme", "crime_justice", {"sexual_violence": 1}),
        ("images et pédocriminalité : un homme mis en examen", "crime_justice", {"child_sexual_abuse": 1}),
        ("la musique et le film", "arts_culture", {}),
        ("hôpital et santé", "health", {}),
        ("attentat : la police", "crime_justice", {"terrorism": 1, "violent_crime": 1}),
        ("suicide d'un homme", "society", {"self_harm": 1}),
    ]
    rows = [{"id": f"tiny-{i}", "text": t, "topic": topic, "sensitivity": {c: cats.get(c, 0) for c in CATEGORIES},
             "source": "modcls-authored", "license": "MIT", "meta": {}} for i, (t, topic, cats) in enumerate(texts)]
    data = write_jsonl(tmp_path / "tiny.jsonl", rows)
    splits = {"splits": {r["id"]: ("train" if i < 8 else "validation" if i < 10 else "test")
                         for i, r in enumerate(rows)}}
    (tmp_path / "splits.json").write_text(json.dumps(splits), encoding="utf-8")
    return TrainingConfig(
        output_dir="retrained", base_model=str(tiny_base),
        data=[DataFile(path="tiny.jsonl", sha256=hashlib.sha256(data.read_bytes()).hexdigest())],
        splits="splits.json", epochs=1, batch_size=4, baseline=False, eval_batch_size=8,
        model_version="tiny-retrained", root=str(tmp_path),
    )


def test_end_to_end_moderate_queue_decide_export_retrain(tiny_model_dir, tiny_base, tmp_path, capsys):
    """moderate (HTTP) -> queue -> decide (HTTP) -> export (CLI) -> retrain (modcls train API) -> load."""
    pytest.importorskip("fastapi")
    from fastapi.testclient import TestClient

    from modcls.labels import TOPICS
    from modcls.moderator import Moderator
    from modcls.policy import Policy
    from modcls.server.app import create_app
    from modcls.server.settings import ServerSettings
    from modcls.training.run import train

    # Every topic routed to review, so that the untrained tiny model queues every paragraph.
    policy = Policy.from_dict({"topics": {t: {"route": "review", "priority": "low"} for t in TOPICS}})
    moderator = Moderator.from_pretrained(tiny_model_dir, policy=policy)
    db = tmp_path / "review.sqlite"
    queue = ReviewQueue(db)
    app = create_app(moderator, ServerSettings(), queue)
    article = "Le procès du meurtre\n\nLa police a mis en examen un homme.\n\nRéagir à cet article"
    with TestClient(app) as client:
        answer = client.post("/v1/moderate", json={"text": article, "id": "article-1"})
        assert answer.status_code == 200
        body = answer.json()
        assert body["id"] == "article-1" and len(body["queued"]) == 3 and body["route"] == "review"
        decided = []
        while (got := client.post("/v1/review/next", json={"reviewer": "alice"})).status_code == 200:
            item = got.json()
            decision = ({"decision": "confirm"} if item["paragraph_index"] != 1 else
                        {"decision": "correct", "topic": "crime_justice", "categories": []})
            r = client.post(f"/v1/review/items/{item['id']}/decision", json={"reviewer": "alice", **decision})
            assert r.status_code == 200, r.text
            decided.append(item["id"])
        assert got.status_code == 204 and sorted(decided) == sorted(body["queued"])
    queue.close()

    export = tmp_path / "new.jsonl"
    assert main(["review", "export", "--db", str(db), "--since", "2000-01-01", "--out", str(export)]) == 0
    rows = [json.loads(line) for line in export.read_text(encoding="utf-8").splitlines()]
    assert len(rows) == 3 and all(set(r["sensitivity"]) == set(CATEGORIES) for r in rows)
    corrected = next(r for r in rows if r["text"] == "La police a mis en examen un homme.")
    assert corrected["topic"] == "crime_justice" and corrected["meta"]["decision"] == "correct"

    config = _tiny_training_config(tmp_path, tiny_base)
    metrics = train(config, init_from=str(tiny_model_dir), add_data=[str(export)])
    out = tmp_path / "retrained"
    run_record = json.loads((out / "run.json").read_text())
    assert run_record["rows"]["train"] == 8 + 3 and run_record["added_data"] == [str(export)]
    assert run_record["init_from"] == str(tiny_model_dir) and "before" in metrics
    retrained = Moderator.from_pretrained(out)
    assert retrained.name == "tiny-retrained"
    assert retrained.classify(["la police a mis en examen un homme"])[0].topic in TOPICS
    capsys.readouterr()
