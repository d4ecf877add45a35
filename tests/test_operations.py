"""Operations: Prometheus metrics, score drift, model reload without restart, offline API docs, the review
page's sign-in, and the review report."""

from __future__ import annotations

import asyncio
import json
import random
import re
import shutil
import threading
import time

import pytest

pytest.importorskip("fastapi")
pytest.importorskip("prometheus_client")

from fastapi.testclient import TestClient  # noqa: E402

from modcls.drift import REFERENCE_FILE, DriftMonitor, model_fingerprint, psi, reference_from_scores  # noqa: E402
from modcls.labels import TOPICS  # noqa: E402
from modcls.moderator import Moderator  # noqa: E402
from modcls.policy import Policy  # noqa: E402
from modcls.review.store import ReviewQueue  # noqa: E402
from modcls.server.app import create_app  # noqa: E402
from modcls.server.runner import ModelRunner  # noqa: E402
from modcls.server.settings import ServerSettings  # noqa: E402

EVERYTHING = Policy.from_dict({"topics": {t: {"route": "review", "priority": "low"} for t in TOPICS}})
CALM = ["match", "but", "équipe", "football", "pluie", "soleil", "météo", "musique", "film", "école", "climat"]
CRIME = ["meurtre", "attentat", "drogue", "cocaïne", "viol", "suicide", "haine", "pédocriminalité", "images",
         "police", "procès", "condamné"]


def texts(words: list[str], n: int, seed: int) -> list[str]:
    rng = random.Random(seed)
    return [" ".join(rng.choice(words) for _ in range(rng.randint(4, 12))) + f" {k}" for k in range(n)]


def served(client: TestClient) -> dict:
    return client.get("/v1/model").json()


def test_metrics_after_traffic(moderator, tmp_path):
    everything = Moderator.from_pretrained(moderator.model_dir, policy=EVERYTHING)
    queue = ReviewQueue(tmp_path / "q.sqlite")
    with TestClient(create_app(everything, ServerSettings(), queue)) as client:
        assert client.post("/v1/classify", json={"paragraphs": texts(CRIME, 5, 0)}).status_code == 200
        assert client.post("/v1/moderate", json={"text": "Le procès du meurtre\n\nLa police a mis en examen."}
                           ).status_code == 200
        assert client.post("/v1/classify", json={"paragraphs": [""]}).status_code == 422
        client.get("/no/such/path")
        body = client.get("/metrics")
    queue.close()
    assert body.status_code == 200 and body.headers["content-type"].startswith("text/plain")
    text = body.text
    for family in ("modcls_http_requests_total", "modcls_http_request_duration_seconds_bucket",
                   "modcls_model_seconds_bucket", "modcls_model_wait_seconds_bucket", "modcls_paragraphs_total",
                   "modcls_flags_total", "modcls_review_queue_waiting", "modcls_review_queue_oldest_waiting_seconds",
                   "modcls_model_info", "modcls_drift_available", "modcls_score_drift_psi"):
        assert family in text, family
    assert 'modcls_http_requests_total{method="POST",route="/v1/classify",status="200"} 1.0' in text
    assert 'modcls_http_requests_total{method="POST",route="/v1/classify",status="422"} 1.0' in text
    assert 'route="unmatched"' in text
    assert re.search(r'modcls_review_queue_waiting\{priority="\w+",route="\w+"\} [1-9]', text)
    engine = everything.predictor.engine_info
    assert f'modcls_model_info{{engine="{engine}",version="tiny-test"}} 1.0' in text
    assert "modcls_drift_available 0.0" in text  # the tiny model has no score reference
    paragraphs = sum(float(v) for v in re.findall(r"^modcls_paragraphs_total\{.*\} (\S+)$", text, re.M))
    assert paragraphs == 7.0


def test_metrics_need_the_token(moderator):
    with TestClient(create_app(moderator, ServerSettings(api_token="s3cret"))) as client:
        assert client.get("/metrics").status_code == 401
        assert client.get("/metrics", headers={"Authorization": "Bearer s3cret"}).status_code == 200


def test_psi_of_a_sample_against_its_own_reference_is_small():
    rng = __import__("numpy").random.default_rng(0)
    ref = reference_from_scores(rng.beta(1, 8, size=(2000, 2)), ["a", "b"])
    assert len(ref["categories"]["a"]["shares"]) == 10
    assert psi(ref["categories"]["a"], rng.beta(1, 8, size=1000)) < 0.05
    assert psi(ref["categories"]["a"], rng.beta(4, 4, size=1000)) > 1.0
    monitor = DriftMonitor(["a", "b"], None, "no reference")
    assert monitor.report() == {"available": False, "window": 0, "window_size": 1000, "min_window": 50,
                                "reason": "no reference"}


def test_drift_gauge_moves_with_another_distribution(tiny_model_dir, tmp_path):
    """A reference made on calm text; the window fed calm text, then crime text: the gauge rises."""
    folder = tmp_path / "model"
    shutil.copytree(tiny_model_dir, folder)
    model = Moderator.from_pretrained(folder)
    scores = [s.sensitivity for s in model.predictor.predict(texts(CALM, 400, 1))]
    reference = reference_from_scores(__import__("numpy").stack(scores), model.categories,
                                      model_version=model.name, model_sha256=model_fingerprint(folder))
    (folder / REFERENCE_FILE).write_text(json.dumps(reference))
    model = Moderator.from_pretrained(folder)

    def gauge(client: TestClient) -> float:
        values = re.findall(r"^modcls_score_drift_psi\{.*\} (\S+)$", client.get("/metrics").text, re.M)
        return max(map(float, values))

    with TestClient(create_app(model, ServerSettings(drift_window=100))) as client:
        assert served(client)["drift"]["available"] is True
        assert "modcls_score_drift_psi{" not in client.get("/metrics").text  # fewer than 50 paragraphs yet
        for k in range(0, 100, 25):
            client.post("/v1/classify", json={"paragraphs": texts(CALM, 25, 100 + k)})
        calm = gauge(client)
        for k in range(0, 100, 25):
            client.post("/v1/classify", json={"paragraphs": texts(CRIME, 25, 200 + k)})
        shifted = gauge(client)
        drift = served(client)["drift"]
    assert calm < 0.25 < shifted, (calm, shifted)
    assert drift["window"] == 100 and max(c["psi"] for c in drift["categories"].values()) == pytest.approx(shifted)


def test_reference_for_other_weights_is_refused(tiny_model_dir, tmp_path):
    folder = tmp_path / "model"
    shutil.copytree(tiny_model_dir, folder)
    (folder / REFERENCE_FILE).write_text(json.dumps({"model_version": "tiny-test", "model_sha256": "0" * 64,
                                                     "categories": {}}))
    report = DriftMonitor.for_model(folder, ["drugs"], "tiny-test").report()
    assert report["available"] is False and "other weights" in report["reason"]


def _second_model(tiny_model_dir, tmp_path):
    folder = tmp_path / "model-2"
    shutil.copytree(tiny_model_dir, folder)
    config = json.loads((folder / "config.json").read_text())
    config["model_version"] = "tiny-2"
    (folder / "config.json").write_text(json.dumps(config))
    return folder


def test_reload_swaps_the_model_without_restart(tiny_model_dir, tmp_path):
    second = _second_model(tiny_model_dir, tmp_path)
    settings = ServerSettings(model=str(tiny_model_dir), api_token="s3cret")
    auth = {"Authorization": "Bearer s3cret"}
    with TestClient(create_app(Moderator.from_pretrained(tiny_model_dir), settings)) as client:
        first = client.post("/v1/classify", json={"paragraphs": ["la pluie"]}, headers=auth)
        assert first.json()["model"]["version"] == "tiny-test" and first.headers["x-model-version"] == "tiny-test"
        assert client.post("/v1/admin/reload", json={"model": str(second)}).status_code == 401
        bad = client.post("/v1/admin/reload", json={"model": str(tmp_path / "nope")}, headers=auth)
        assert bad.status_code == 422 and "old one stays" in bad.json()["detail"]
        done = client.post("/v1/admin/reload", json={"model": str(second)}, headers=auth)
        assert done.status_code == 200 and done.json()["previous"] == "tiny-test"
        assert done.json()["model_version"] == "tiny-2"
        after = client.post("/v1/moderate", json={"text": "la pluie"}, headers=auth)
        assert after.json()["model"]["version"] == "tiny-2" and after.headers["x-model-version"] == "tiny-2"
        info = client.get("/v1/model", headers=auth).json()
        assert info["model_version"] == "tiny-2" and info["model_dir"] == str(second)
        again = client.post("/v1/admin/reload", headers=auth)  # no body: the folder in service, read again
        assert again.status_code == 200 and again.json()["previous"] == "tiny-2"


def test_requests_in_flight_finish_on_the_old_model(tiny_model_dir, tmp_path):
    old = Moderator.from_pretrained(tiny_model_dir)
    new = Moderator.from_pretrained(_second_model(tiny_model_dir, tmp_path))
    started = threading.Event()
    classify = old.classify

    def slow(*args, **kwargs):
        started.set()
        time.sleep(0.5)
        return classify(*args, **kwargs)

    old.classify = slow
    runner = ModelRunner(old)

    async def scenario():
        first = asyncio.ensure_future(runner.classify(["la pluie"]))
        queued = asyncio.ensure_future(runner.classify(["le soleil"]))  # submitted before the swap too
        await asyncio.sleep(0)
        await asyncio.to_thread(started.wait, 5)
        answer = await asyncio.to_thread(runner.reload, lambda: new)
        later = await runner.classify(["le match"])
        return await first, await queued, later, answer

    try:
        (_, s1), (_, s2), (_, s3), answer = asyncio.run(scenario())
    finally:
        runner.close()
    assert answer["previous"] == "tiny-test" and answer["model_version"] == "tiny-2"
    assert (s1.moderator, s2.moderator, s3.moderator) == (old, old, new)


def test_docs_and_redoc_work_offline(moderator):
    with TestClient(create_app(moderator)) as client:
        for page in ("/docs", "/redoc"):
            html = client.get(page)
            assert html.status_code == 200
            assert not re.search(r"https?://", html.text), page  # nothing from a CDN, no web fonts
            for asset in re.findall(r'(?:src|href)="([^"]+)"', html.text) + re.findall(r"url: '([^']+)'", html.text):
                assert client.get(asset).status_code == 200, asset


def test_review_page_sign_in(moderator, tmp_path):
    queue = ReviewQueue(tmp_path / "q.sqlite")
    with TestClient(create_app(moderator, ServerSettings(api_token="s3cret"), queue)) as client:
        page = client.get("/review")
        assert page.status_code == 401 and 'name="token"' in page.text
        assert client.get("/review/static/review.js").status_code == 200  # assets carry no data
        wrong = client.post("/review/login", data={"token": "nope"}, follow_redirects=False)
        assert wrong.status_code == 401 and "modcls_review" not in wrong.cookies
        right = client.post("/review/login", data={"token": "s3cret"}, follow_redirects=False)
        assert right.status_code == 303 and "s3cret" not in right.headers["set-cookie"]
        assert "samesite=strict" in right.headers["set-cookie"].lower()
        assert "httponly" in right.headers["set-cookie"].lower()
        page = client.get("/review")  # the client keeps the cookie
        assert page.status_code == 200 and "review.js" in page.text
        assert client.get("/v1/review/report").status_code == 200  # the cookie opens the API too
        client.post("/review/logout", follow_redirects=False)
        client.cookies.clear()
        assert client.get("/v1/review/report").status_code == 401
    queue.close()


def test_review_next_takes_the_order(moderator, tmp_path):
    everything = Moderator.from_pretrained(moderator.model_dir, policy=EVERYTHING)
    queue = ReviewQueue(tmp_path / "q.sqlite")
    with TestClient(create_app(everything, ServerSettings(review_order="uncertainty"), queue)) as client:
        client.post("/v1/moderate", json={"text": "Le procès\n\nla pluie le match\n\nle soleil la météo"})
        items = [queue.get(i) for i in range(1, 4)]
        assert all(it.margin is not None and it.context is not None for it in items)
        assert items[1].context["headline"] == "Le procès" and items[1].context["before"] == []
        assert [p["text"] for p in items[1].context["after"]] == ["le soleil la météo"]
        took = client.post("/v1/review/next", json={"reviewer": "a"}).json()
        assert took["margin"] == min(it.margin for it in items)
        assert client.post("/v1/review/next", json={"reviewer": "b", "order": "sideways"}).status_code == 422
        report = client.get("/v1/review/report").json()
        assert report["leased"] == 1 and report["agreement"]["decisions"] == 0
    queue.close()


@pytest.mark.slow
def test_sighup_reloads_the_model_folder(tiny_model_dir, tmp_path):
    """`modcls serve` reads its model folder again on SIGHUP (a retrain replaced it) and keeps serving."""
    import os
    import signal
    import socket
    import subprocess
    import sys

    import httpx

    folder = tmp_path / "model"
    shutil.copytree(tiny_model_dir, folder)
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    log = open(tmp_path / "server.log", "w")  # noqa: SIM115
    server = subprocess.Popen([sys.executable, "-m", "modcls", "serve", "--model", str(folder), "--no-queue",
                               "--port", str(port)], stdout=log, stderr=subprocess.STDOUT,
                              env=os.environ | {"MODCLS_API_TOKEN": ""})
    base = f"http://127.0.0.1:{port}"

    def version() -> str | None:
        try:
            return httpx.get(f"{base}/v1/model", timeout=2).json().get("model_version")
        except (httpx.HTTPError, ValueError):
            return None

    def wait_for(value: str) -> None:
        deadline = time.time() + 120
        while version() != value:
            assert server.poll() is None, (tmp_path / "server.log").read_text()
            assert time.time() < deadline, (tmp_path / "server.log").read_text()
            time.sleep(0.2)

    try:
        wait_for("tiny-test")
        config = json.loads((folder / "config.json").read_text())
        (folder / "config.json").write_text(json.dumps(config | {"model_version": "tiny-hup"}))
        server.send_signal(signal.SIGHUP)
        wait_for("tiny-hup")
        answer = httpx.post(f"{base}/v1/classify", json={"paragraphs": ["la pluie"]}, timeout=10)
        assert answer.json()["model"]["version"] == "tiny-hup"
    finally:
        server.terminate()
        server.wait(30)
        log.close()
    assert '"event": "model_reloaded"' in (tmp_path / "server.log").read_text()
