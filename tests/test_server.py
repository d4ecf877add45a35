"""The REST API: routes, schema, limits, auth, logs without text, micro-batching, readiness, and a real
server killed with SIGKILL mid-stream (every answered request's review items are on disk)."""

from __future__ import annotations

import asyncio
import json
import logging
import os
import shutil
import signal
import socket
import sqlite3
import subprocess
import sys
import threading
import time

import pytest

pytest.importorskip("fastapi")
pytest.importorskip("sqlalchemy")

from fastapi.testclient import TestClient  # noqa: E402

from modcls.cli import main  # noqa: E402
from modcls.labels import TOPICS  # noqa: E402
from modcls.moderator import MAX_TEXT_CHARS, Moderator  # noqa: E402
from modcls.results import ParagraphResult  # noqa: E402
from modcls.review.store import ReviewQueue  # noqa: E402
from modcls.server.app import create_app  # noqa: E402
from modcls.server.runner import ModelRunner  # noqa: E402
from modcls.server.schemas import ParagraphOut  # noqa: E402
from modcls.server.settings import ServerSettings, SettingsError  # noqa: E402

ARTICLE = "Le procès du meurtre\n\nLa police a mis en examen un homme.\n\nRéagir à cet article\n"
ALL_REVIEW = {"topics": {t: {"route": "review", "priority": "low"} for t in TOPICS}}


@pytest.fixture(scope="module")
def review_all(tiny_model_dir) -> Moderator:
    """The tiny model with a policy that routes every paragraph to review."""
    from modcls.policy import Policy

    return Moderator.from_pretrained(tiny_model_dir, policy=Policy.from_dict(ALL_REVIEW))


@pytest.fixture
def make_client(moderator, review_all, tmp_path):
    """A TestClient over the tiny model with a SQLite queue; keyword arguments become settings.

    ``everything=True`` serves the model with a policy that sends every paragraph to review.
    """
    opened = []

    def make(queue: bool = True, everything: bool = False, served: Moderator | None = None, **settings) -> TestClient:
        q = ReviewQueue(tmp_path / f"q{len(opened)}.sqlite") if queue else None
        model = served or (review_all if everything else moderator)
        client = TestClient(create_app(model, ServerSettings(**settings), q))
        client.__enter__()
        opened.append((client, q))
        return client

    yield make
    for client, q in opened:
        client.__exit__(None, None, None)
        if q is not None:
            q.close()


def test_probes_and_model_info(make_client, tiny_model_dir, tmp_path):
    model = tmp_path / "model"
    shutil.copytree(tiny_model_dir, model)
    metrics = {"model": {"test": {"modcls-authored": {
        "rows": 10, "topic": {"accuracy": 0.8, "macro_f1": 0.712345},
        "sensitivity": {"drugs": {"f1": 0.5, "recall": 1.0, "positives": 2},
                        "self_harm": {"f1": 0.0, "recall": 0.0, "positives": 0}}}}},
        "calibration": {"rule": "best F1"}}
    (model / "metrics.json").write_text(json.dumps(metrics))
    client = make_client(served=Moderator.from_pretrained(model))
    assert client.get("/healthz").json() == {"status": "ok", "detail": None}
    assert client.get("/readyz").json()["status"] == "ready"
    info = client.get("/v1/model").json()
    assert info["model_version"] == "tiny-test" and info["topics"] == list(TOPICS) and len(info["categories"]) == 7
    assert set(info["thresholds"]) == set(info["categories"]) and "categories" in info["policy"]
    headline = info["metrics"]["test"]["modcls-authored"]
    assert headline["topic_macro_f1"] == 0.7123 and headline["sensitivity_mean_f1"] == 0.5
    assert info["metrics"]["calibration_rule"] == "best F1"
    assert make_client().get("/v1/model").json()["metrics"] is None  # no metrics.json: None


def test_moderate_answers_the_cli_json(make_client, tiny_model_dir, tmp_path, capsys):
    client = make_client()
    answer = client.post("/v1/moderate", json={"text": ARTICLE, "id": "a-1"})
    assert answer.status_code == 200
    body = answer.json()
    path = tmp_path / "a.txt"
    path.write_text(ARTICLE, encoding="utf-8")
    capsys.readouterr()
    assert main(["moderate", str(path), "--json", "--model", str(tiny_model_dir)]) == 0
    cli = json.loads(capsys.readouterr().out)
    assert {k: body[k] for k in cli} == cli
    assert body["id"] == "a-1" and set(body) == set(cli) | {"id", "queued"}
    routed = [p for p in body["paragraphs"] if p["route"] != "allow"]
    assert len(body["queued"]) == len(routed)
    assert answer.headers["x-request-id"]


def test_classify_with_and_without_ids(make_client, moderator):
    client = make_client(queue=False)
    texts = ["La police a mis en examen un homme.", "Météo : pluie et soleil."]
    answer = client.post("/v1/classify", json={"paragraphs": [{"text": texts[0], "id": "p-1"}, texts[1]]})
    assert answer.status_code == 200, answer.text
    body = answer.json()
    expected = [r.to_dict() for r in moderator.classify(texts)]
    assert [r["id"] for r in body["results"]] == ["p-1", None]
    assert [{k: r[k] for k in expected[0]} for r in body["results"]] == expected
    assert body["queued"] == [] and body["model"]["version"] == "tiny-test" and body["article_id"]


def test_response_models_mirror_the_result_dataclasses():
    from dataclasses import fields

    assert set(ParagraphOut.model_fields) == {f.name for f in fields(ParagraphResult)}


def test_limits_answer_413_and_422(make_client):
    client = make_client(max_body_bytes=4000, max_paragraphs=3, max_paragraph_chars=500)
    big = client.post("/v1/classify", json={"paragraphs": ["mot " * 1500]})
    assert big.status_code == 413 and "4,000 bytes" in big.json()["detail"]
    chunked = client.post("/v1/classify", content=iter([b'{"paragraphs": ["', b"a" * 5000, b'"]}']),
                          headers={"content-type": "application/json"})
    assert chunked.status_code == 413
    many = client.post("/v1/classify", json={"paragraphs": ["un"] * 4})
    assert many.status_code == 413 and "the limit is 3" in many.json()["detail"]
    long = client.post("/v1/classify", json={"paragraphs": ["un", "x" * 501]})
    assert long.status_code == 413 and "paragraph 1 has 501 characters" in long.json()["detail"]
    empty = client.post("/v1/classify", json={"paragraphs": ["un", "  "]})
    assert empty.status_code == 422 and "paragraph 1 is empty" in empty.json()["detail"]
    assert client.post("/v1/classify", json={"paragraphs": []}).status_code == 422
    assert client.post("/v1/classify", json={"paragraphs": ["un"], "extra": 1}).status_code == 422
    assert client.post("/v1/moderate", json={"text": ""}).status_code == 422
    assert client.post("/v1/moderate", content=b"not json", headers={"content-type": "application/json"}
                       ).status_code == 422
    roomy = make_client(max_body_bytes=MAX_TEXT_CHARS * 2)
    huge = roomy.post("/v1/moderate", json={"text": "a" * (MAX_TEXT_CHARS + 1)})
    assert huge.status_code == 413 and "100,000" in huge.json()["detail"]
    with pytest.raises(SettingsError, match="cannot exceed"):
        ServerSettings(max_paragraph_chars=MAX_TEXT_CHARS + 1)


def test_bearer_token(make_client):
    client = make_client(api_token="s3cret")
    assert client.post("/v1/classify", json={"paragraphs": ["un"]}).status_code == 401
    wrong = client.get("/v1/model", headers={"Authorization": "Bearer nope"})
    assert wrong.status_code == 401 and wrong.headers["www-authenticate"] == "Bearer"
    assert client.post("/v1/review/next", json={"reviewer": "a"}).status_code == 401
    ok = client.post("/v1/classify", json={"paragraphs": ["un"]}, headers={"Authorization": "Bearer s3cret"})
    assert ok.status_code == 200
    assert client.get("/healthz").status_code == 200 and client.get("/readyz").status_code == 200


def test_settings_from_env():
    env = {"MODCLS_API_TOKEN": "s3cr3t-token", "MODCLS_MAX_PARAGRAPHS": "7", "MODCLS_LOG_TEXT": "yes",
           "MODCLS_PORT": "9"}
    settings = ServerSettings.from_env(env, port=10, max_body_bytes=None)
    assert (settings.api_token, settings.max_paragraphs, settings.log_text, settings.port) == (
        "s3cr3t-token", 7, True, 10)
    assert "s3cr3t" not in repr(settings)
    assert ServerSettings.from_env({"MODCLS_API_TOKEN": ""}).api_token is None
    with pytest.raises(SettingsError, match="MODCLS_MAX_PARAGRAPHS must be an integer"):
        ServerSettings.from_env({"MODCLS_MAX_PARAGRAPHS": "many"})


def test_openapi_schema(make_client):
    schema = make_client().get("/openapi.json").json()
    assert schema["info"]["title"] == "modcls"
    for path in ("/v1/moderate", "/v1/classify", "/v1/model", "/healthz", "/readyz", "/v1/review/next",
                 "/v1/review/items/{item_id}/decision", "/v1/review/export", "/v1/review/stats"):
        assert path in schema["paths"], path
    components = schema["components"]["schemas"]
    for name in ("ModerateRequest", "ModerateResponse", "ClassifyRequest", "ClassifyResponse", "ModelInfo",
                 "DecisionRequest", "ReviewItemOut"):
        assert name in components, name
    moderate = schema["paths"]["/v1/moderate"]["post"]
    assert moderate["responses"]["200"]["content"]["application/json"]["schema"]["$ref"].endswith("ModerateResponse")
    assert "413" in moderate["responses"]
    assert "securitySchemes" not in schema.get("components", {})
    secured = make_client(api_token="x").get("/openapi.json").json()
    assert "HTTPBearer" in secured["components"]["securitySchemes"]


def test_logs_carry_no_text_unless_debug(make_client, caplog):
    marker = "Pédocriminalité marqueur-secret"
    caplog.set_level(logging.INFO, logger="modcls.server")
    client = make_client(everything=True)
    assert client.post("/v1/moderate", json={"text": f"{marker}\n\nLa police.", "id": "art-9"}).status_code == 200
    assert client.post("/v1/classify", json={"paragraphs": [marker]}).status_code == 200
    assert client.post("/v1/classify", json={"paragraphs": [marker * 10_000]}).status_code == 413
    item = client.post("/v1/review/next", json={"reviewer": "rev"})
    assert item.status_code == 200
    lines = [r.getMessage() + json.dumps(getattr(r, "fields", {}), ensure_ascii=False) for r in caplog.records]
    assert lines and not any("marqueur-secret" in line for line in lines)
    requests = [r.fields for r in caplog.records if r.getMessage() == "request"]
    moderate = next(f for f in requests if f["path"] == "/v1/moderate")
    assert moderate["article_id"] == "art-9" and moderate["status"] == 200 and moderate["ms"] >= 0
    assert {"route", "paragraphs", "queued", "model_ms", "request_id"} <= set(moderate)
    assert any(f["path"] == "/v1/classify" and f["status"] == 413 for f in requests)
    caplog.clear()
    debug = make_client(log_text=True)
    debug.post("/v1/classify", json={"paragraphs": [marker]})
    assert any(marker in json.dumps(getattr(r, "fields", {}), ensure_ascii=False) for r in caplog.records)


def test_json_log_lines():
    from modcls.server.logs import JsonFormatter

    record = logging.LogRecord("modcls.server", logging.INFO, __file__, 1, "request", None, None)
    record.fields = {"status": 200, "path": "/v1/classify"}
    line = json.loads(JsonFormatter().format(record))
    assert line["event"] == "request" and line["status"] == 200 and line["level"] == "info" and line["ts"]


def test_review_routes(make_client):
    client = make_client(everything=True)
    client.post("/v1/moderate", json={"text": ARTICLE, "id": "a"})
    queued = client.post("/v1/classify", json={"paragraphs": ["La police a mis en examen un homme."] * 2,
                                               "article_id": "b"}).json()["queued"]
    stats = client.get("/v1/review/stats").json()
    assert stats["pending"] == stats["total"] >= len(queued)
    assert client.post("/v1/review/next", json={"reviewer": ""}).status_code == 422
    item = client.post("/v1/review/next", json={"reviewer": "alice", "lease_seconds": 30}).json()
    assert item["lease_owner"] == "alice" and item["text"]
    assert client.get(f"/v1/review/items/{item['id']}").json()["id"] == item["id"]
    assert client.get("/v1/review/items/9999").status_code == 404
    stolen = client.post(f"/v1/review/items/{item['id']}/decision", json={"reviewer": "bob", "decision": "confirm"})
    assert stolen.status_code == 409
    bad = client.post(f"/v1/review/items/{item['id']}/decision",
                      json={"reviewer": "alice", "decision": "correct", "topic": "cuisine"})
    assert bad.status_code == 422 and "unknown topic" in bad.json()["detail"]
    done = client.post(f"/v1/review/items/{item['id']}/decision",
                       json={"reviewer": "alice", "decision": "correct", "categories": ["violent_crime"],
                             "note": "meurtre"})
    assert done.status_code == 200 and done.json()["decided_sensitivity"]["violent_crime"] == 1
    again = client.post(f"/v1/review/items/{item['id']}/decision", json={"reviewer": "alice", "decision": "confirm"})
    assert again.status_code == 409
    other = client.post("/v1/review/next", json={"reviewer": "alice"}).json()
    assert client.post(f"/v1/review/items/{other['id']}/release", json={"reviewer": "alice"}).json()["status"] == \
        "pending"
    export = client.get("/v1/review/export", params={"since": "2000-01-01", "license": "CC0"})
    rows = [json.loads(line) for line in export.text.splitlines()]
    assert export.headers["content-type"].startswith("application/x-ndjson")
    assert len(rows) == 1 and rows[0]["license"] == "CC0" and rows[0]["meta"]["note"] == "meurtre"
    assert client.get("/v1/review/export", params={"since": "hier"}).status_code == 422
    no_queue = make_client(queue=False)
    assert no_queue.post("/v1/review/next", json={"reviewer": "a"}).status_code == 503


def test_loading_model_is_not_ready(moderator, tmp_path):
    release = threading.Event()

    def load() -> Moderator:
        release.wait(30)
        return moderator

    with TestClient(create_app(load, ServerSettings(), None)) as client:
        assert client.get("/healthz").status_code == 200
        assert client.get("/readyz").status_code == 503 and client.get("/readyz").json()["status"] == "loading"
        assert client.post("/v1/classify", json={"paragraphs": ["un"]}).status_code == 503
        release.set()
        for _ in range(100):
            if client.get("/readyz").status_code == 200:
                break
            time.sleep(0.05)
        assert client.get("/readyz").status_code == 200
        assert client.post("/v1/classify", json={"paragraphs": ["un"]}).status_code == 200

    def broken() -> Moderator:
        raise RuntimeError("no such model")

    failures = []
    with TestClient(create_app(broken, ServerSettings(), None, on_load_error=failures.append)) as client:
        for _ in range(100):
            if failures:
                break
            time.sleep(0.05)
        ready = client.get("/readyz")
        assert ready.status_code == 503 and "no such model" in ready.json()["detail"]


def test_concurrent_requests_run_one_at_a_time_on_the_model_thread(moderator):
    """Requests waiting for the model thread each get exactly their own results, in turn, never merged."""
    release = threading.Event()
    seen: list[str] = []

    class Spy:
        """The moderator, recording which thread calls it."""

        def __getattr__(self, name):
            return getattr(moderator, name)

        def classify(self, texts, batch_size=32):
            seen.append(threading.current_thread().name)
            return moderator.classify(texts, batch_size=batch_size)

    def load():
        release.wait(30)
        return Spy()

    texts = [["La police a mis en examen un homme.", "Météo : pluie."], ["Le match de football."],
             ["Un procès pour meurtre.", "abonnez-vous", "la musique et le film"]]

    async def scenario(runner: ModelRunner) -> list:
        calls = [asyncio.ensure_future(runner.classify(t)) for t in texts]
        await asyncio.sleep(0.05)
        release.set()
        return await asyncio.gather(*calls)

    runner = ModelRunner(load)
    try:
        answers = asyncio.run(scenario(runner))
    finally:
        runner.close()
    for batch, (results, stats) in zip(texts, answers):
        assert [r.to_dict() for r in results] == [r.to_dict() for r in moderator.classify(batch)]
        assert stats.model_ms >= 0 and stats.wait_ms >= 0
    assert answers[2][1].wait_ms >= answers[0][1].wait_ms
    assert seen == ["modcls-model"] * 4  # the warm-up, then one call per request


# -- a real server process ------------------------------------------------------------------------------
def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@pytest.mark.slow
def test_sigkill_mid_stream_loses_no_answered_request(tiny_model_dir, tmp_path):
    """Every /v1/moderate that got a 200 has its review items in the queue after a SIGKILL; the file is sane."""
    import httpx

    policy = tmp_path / "policy.json"
    policy.write_text(json.dumps(ALL_REVIEW))
    db = tmp_path / "review.sqlite"
    port = _free_port()
    log = open(tmp_path / "server.log", "w")  # noqa: SIM115
    server = subprocess.Popen(
        [sys.executable, "-m", "modcls", "serve", "--model", str(tiny_model_dir), "--policy", str(policy),
         "--review-db", str(db), "--port", str(port), "--log-level", "warning"],
        stdout=log, stderr=subprocess.STDOUT, env=os.environ | {"MODCLS_API_TOKEN": ""},
    )
    base = f"http://127.0.0.1:{port}"
    answered: dict[str, list[int]] = {}
    try:
        deadline = time.time() + 120
        while time.time() < deadline:
            try:
                if httpx.get(f"{base}/readyz", timeout=2).status_code == 200:
                    break
            except httpx.HTTPError:
                pass
            assert server.poll() is None, (tmp_path / "server.log").read_text()
            time.sleep(0.2)
        else:
            pytest.fail("the server did not become ready")

        stop = threading.Event()

        def client(worker: int) -> None:
            with httpx.Client(base_url=base, timeout=10) as http:
                for n in range(10_000):
                    if stop.is_set():
                        return
                    article_id = f"w{worker}-{n}"
                    try:
                        r = http.post("/v1/moderate", json={"id": article_id, "text": f"{ARTICLE}\n\nArticle {n}."})
                    except httpx.HTTPError:
                        return
                    if r.status_code == 200:
                        answered[article_id] = r.json()["queued"]

        threads = [threading.Thread(target=client, args=(w,)) for w in range(4)]
        for t in threads:
            t.start()
        while len(answered) < 40 and server.poll() is None:
            time.sleep(0.01)
        server.send_signal(signal.SIGKILL)
        server.wait(30)
        stop.set()
        for t in threads:
            t.join(30)
    finally:
        if server.poll() is None:
            server.kill()
            server.wait(30)
        log.close()
    assert len(answered) >= 40

    with sqlite3.connect(db) as conn:
        assert conn.execute("PRAGMA integrity_check").fetchone()[0] == "ok"
    with ReviewQueue(db) as queue:
        for article_id, queued in answered.items():
            items = queue.items_for_article(article_id)
            assert [i.id for i in items] == queued and len(items) == 4, article_id
        assert queue.next("after-crash") is not None
