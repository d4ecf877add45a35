"""The REST API: ``create_app(moderator, settings, queue)`` builds a FastAPI app over one Moderator.

Routes: ``POST /v1/moderate``, ``POST /v1/classify``, ``GET /v1/model``, ``GET /healthz``, ``GET /readyz``,
``GET /metrics``, ``POST /v1/admin/reload``, the review queue under ``/v1/review/`` and the reviewers' page
``/review``; ``/docs`` and ``/redoc`` from assets served here. Paragraphs routed to review are in the queue
(committed) before the answer is sent.
"""

from __future__ import annotations

import json
import logging
import re
import secrets
import threading
import time
import uuid
from collections.abc import Callable, Iterator
from contextlib import asynccontextmanager
from pathlib import Path
from typing import Any

from fastapi import Depends, FastAPI, HTTPException, Query, Request, Response
from fastapi.concurrency import run_in_threadpool
from fastapi.responses import JSONResponse, StreamingResponse
from fastapi.security import HTTPAuthorizationCredentials, HTTPBearer
from sqlalchemy.exc import SQLAlchemyError
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from .. import __version__
from ..drift import DriftMonitor
from ..errors import InputError, ModclsError
from ..moderator import DEFAULT_MODEL_DIR, MAX_TEXT_CHARS, Moderator, check_text
from ..review.export import DEFAULT_LICENSE, training_row
from ..review.store import Conflict, NotFound, ReviewError, ReviewQueue
from . import docs, review_page
from .logs import log_event
from .metrics import MetricsMiddleware, ServerMetrics
from .runner import ModelRunner, ReloadInProgress, RunStats
from .schemas import (
    ClassifyRequest,
    ClassifyResponse,
    DecisionRequest,
    Health,
    ModelInfo,
    ModerateRequest,
    ModerateResponse,
    NextRequest,
    ParagraphIn,
    QueueReport,
    QueueStats,
    ReloadRequest,
    ReloadResponse,
    ReviewerRequest,
    ReviewItemOut,
)
from .settings import ServerSettings

_REQUEST_ID = re.compile(r"^[A-Za-z0-9._-]{1,64}$")


def create_app(
    moderator: Moderator | Callable[[], Moderator],
    settings: ServerSettings | None = None,
    queue: ReviewQueue | None = None,
    *,
    on_load_error: Callable[[BaseException], None] | None = None,
) -> FastAPI:
    """The API over ``moderator`` (or a loader run once, on the model thread, while the server already
    answers ``/healthz``) and the review ``queue`` (None: nothing is queued, review routes answer 503).
    """
    settings = settings or ServerSettings()
    runner = ModelRunner(moderator, batch_size=settings.batch_size, on_load_error=on_load_error)
    # Per loaded model (the one in service, and the one it replaced while its last requests finish): its
    # folder, headline metrics and drift window.
    served: dict[int, dict[str, Any]] = {}
    served_lock = threading.Lock()

    def model_state(model: Moderator) -> dict[str, Any]:
        with served_lock:
            state = served.get(id(model))
            if state is None:
                folder = model_folder(model, settings)
                state = {"model": model, "folder": folder, "metrics": headline_metrics(folder),
                         "drift": DriftMonitor.for_model(folder, model.categories, model.name,
                                                         window=settings.drift_window)}
                served[id(model)] = state
                while len(served) > 2:
                    served.pop(next(iter(served)))
            return state

    runner.on_swap(model_state)  # read the new model's folder on the reloading thread, not on a request

    def scrape_state() -> dict[str, Any]:
        out: dict[str, Any] = {"model": None, "drift": None, "queue": None, "loaded_at": runner.loaded_at}
        model = runner.moderator if runner.ready.is_set() else None
        if model is not None:
            out["model"] = {"version": model.name, "engine": model.predictor.engine_info}
            out["drift"] = model_state(model)["drift"].report()
        if queue is not None:
            try:
                out["queue"] = queue.stats()
            except SQLAlchemyError:
                out["queue"] = None
        return out

    metrics = ServerMetrics(scrape_state)

    @asynccontextmanager
    async def lifespan(_: FastAPI) -> Any:
        log_event("start", version=__version__, queue=queue.safe_url if queue else None,
                  auth=settings.api_token is not None)
        yield
        runner.close()
        log_event("stop")

    app = FastAPI(
        title="modcls",
        version=__version__,
        description="Topic and sensitivity moderation of French news paragraphs, with a human-review queue.",
        lifespan=lifespan,
        docs_url=None,
        redoc_url=None,
    )
    app.state.runner = runner
    app.state.queue = queue
    app.state.settings = settings
    app.state.metrics = metrics
    # The last added runs first: the request log sees every answer, the body limit's 413s included.
    app.add_middleware(_BodyLimit, limit=settings.max_body_bytes)  # type: ignore[arg-type]
    app.add_middleware(MetricsMiddleware, metrics=metrics)  # type: ignore[arg-type]
    app.add_middleware(_RequestLog)  # type: ignore[arg-type]

    auth = [Depends(_bearer_check(settings.api_token))] if settings.api_token else []
    docs.install(app)
    review_page.install(app, settings.api_token)

    # -- errors ---------------------------------------------------------------------------------
    @app.exception_handler(InputError)
    async def _input_error(_: Request, err: InputError) -> JSONResponse:
        return JSONResponse({"detail": str(err)}, status_code=422)

    @app.exception_handler(ReviewError)
    async def _review_error(_: Request, err: ReviewError) -> JSONResponse:
        code = 404 if isinstance(err, NotFound) else 409 if isinstance(err, Conflict) else 422
        return JSONResponse({"detail": str(err)}, status_code=code)

    @app.exception_handler(SQLAlchemyError)
    async def _db_error(request: Request, err: SQLAlchemyError) -> JSONResponse:
        log_event("queue_error", logging.ERROR, request_id=_state(request).get("request_id"), error=type(err).__name__)
        return JSONResponse({"detail": "the review queue is unavailable; nothing was recorded"}, status_code=503,
                            headers={"Retry-After": "5"})

    # -- probes ---------------------------------------------------------------------------------
    @app.get("/healthz", response_model=Health, tags=["probes"])
    async def healthz() -> dict[str, Any]:
        """The process answers."""
        return {"status": "ok"}

    @app.get("/readyz", response_model=Health, tags=["probes"], responses={503: {"model": Health}})
    def readyz() -> Any:
        """The model is loaded and the review queue answers."""
        if runner.load_error is not None:
            return JSONResponse({"status": "failed", "detail": f"model failed to load: {runner.load_error}"}, 503)
        if not runner.ready.is_set():
            return JSONResponse({"status": "loading", "detail": "the model is loading"}, 503)
        if queue is not None:
            try:
                queue.ping()
            except SQLAlchemyError as err:
                return JSONResponse({"status": "unavailable", "detail": f"review queue: {type(err).__name__}"}, 503)
        return {"status": "ready"}

    def loaded() -> Moderator:
        if runner.load_error is not None:
            raise HTTPException(503, f"the model failed to load: {runner.load_error}")
        if runner.moderator is None or not runner.ready.is_set():
            raise HTTPException(503, "the model is loading; retry shortly", headers={"Retry-After": "5"})
        return runner.moderator

    # -- model ----------------------------------------------------------------------------------
    @app.get("/v1/model", response_model=ModelInfo, dependencies=auth, tags=["model"])
    def model_info(response: Response) -> dict[str, Any]:
        """Labels, thresholds and policy in force, model version, headline metrics and score drift."""
        model = loaded()
        state = model_state(model)
        response.headers["X-Model-Version"] = model.name
        return model.info() | {"metrics": state["metrics"], "drift": state["drift"].report(),
                               "model_dir": str(state["folder"]) if state["folder"] else None,
                               "loaded_at": runner.loaded_at}

    @app.get("/metrics", dependencies=auth, tags=["operations"], response_class=Response,
             responses={200: {"content": {"text/plain": {}}, "description": "Prometheus text format"}})
    def prometheus_metrics() -> Response:
        """Requests, latencies, paragraphs, flags, queue depth, model version and score drift (Prometheus)."""
        body, content_type = metrics.render()
        return Response(body, media_type=content_type)

    @app.post("/v1/admin/reload", response_model=ReloadResponse, dependencies=auth, tags=["operations"],
              responses={409: {"description": "a reload is already running"},
                         422: {"description": "the model cannot be loaded; the old one stays in service"}})
    async def reload_model(body: ReloadRequest | None = None) -> dict[str, Any]:
        """Load a model folder (default: the one in service) beside the current model, warm it up and swap:
        requests already received finish on the old model, later ones get the new one."""
        loaded()
        folder = (body.model if body else None) or settings.model
        try:
            answer = await run_in_threadpool(runner.reload, model_loader(settings, folder))
        except ReloadInProgress as err:
            raise HTTPException(409, str(err)) from None
        except ModclsError as err:
            raise HTTPException(422, f"the model cannot be loaded; the old one stays in service: {err}") from None
        if folder is not None:
            settings.model = folder
        log_event("model_reloaded", **answer)
        return answer

    @app.post("/v1/moderate", response_model=ModerateResponse, dependencies=auth, tags=["model"],
              responses={413: {"description": "article too long"}, 422: {"description": "invalid input"}})
    async def moderate(body: ModerateRequest, request: Request, response: Response) -> dict[str, Any]:
        """Moderate one article: the JSON of ``modcls moderate --json``, plus its id and queued review items."""
        loaded()
        _check_length(body.text, "article", MAX_TEXT_CHARS)
        check_text(body.text, "article")
        article_id = body.id or uuid.uuid4().hex
        result, stats = await runner.moderate(body.text)
        model = _observe(result.paragraphs, stats, response)
        # shown to reviewers above the paragraph: the paragraph read as context, else the article's first
        top = result.headline if result.headline is not None else 0 if len(result.paragraphs) > 1 else None
        headline = None if top is None else result.paragraphs[top].text
        queued = await _enqueue(result.paragraphs, article_id, model, None, headline, top)
        _log_fields(request, stats, article_id=article_id, paragraphs=len(result.paragraphs), route=result.route,
                    priority=result.priority, queued=len(queued),
                    **({"text": body.text} if settings.log_text else {}))
        return {"id": article_id, **result.to_dict(), "queued": queued}

    @app.post("/v1/classify", response_model=ClassifyResponse, dependencies=auth, tags=["model"],
              responses={413: {"description": "too many or too long paragraphs"},
                         422: {"description": "invalid input"}})
    async def classify(body: ClassifyRequest, request: Request, response: Response) -> dict[str, Any]:
        """Label each paragraph (with optional ids and article context); routed paragraphs are queued."""
        loaded()
        items = [p if isinstance(p, ParagraphIn) else ParagraphIn(text=p) for p in body.paragraphs]
        if not items:
            raise HTTPException(422, "paragraphs is empty")
        if len(items) > settings.max_paragraphs:
            raise HTTPException(413, f"{len(items)} paragraphs in one request; the limit is {settings.max_paragraphs}")
        for i, p in enumerate(items):
            _check_length(p.text, f"paragraph {i}", settings.max_paragraph_chars)
            check_text(p.text, f"paragraph {i}")
        article_id = body.article_id or uuid.uuid4().hex
        for i, p in enumerate(items):
            if p.context is not None:
                _check_length(p.context, f"context of paragraph {i}", settings.max_paragraph_chars)
        contexts = [p.context if p.context is not None else body.context for p in items]
        results, stats = await runner.classify([p.text for p in items],
                                               contexts if any(c is not None for c in contexts) else None)
        ids = [p.id for p in items]
        model = _observe(results, stats, response)
        queued = await _enqueue(results, article_id, model, ids, contexts)
        _log_fields(request, stats, article_id=article_id, paragraphs=len(items),
                    routes=_count(r.route for r in results), queued=len(queued),
                    **({"texts": [p.text for p in items]} if settings.log_text else {}))
        return {
            "article_id": article_id,
            "results": [r.to_dict() | {"id": pid} for r, pid in zip(results, ids)],
            "model": model.model_info(),
            "queued": queued,
        }

    def _observe(results: list[Any], stats: RunStats, response: Response) -> Moderator:
        """Count the results in the metrics and the drift window; name the model that answered."""
        model = stats.moderator or loaded()
        metrics.observe_results(results)
        metrics.observe_model(stats.wait_ms, stats.model_ms)
        model_state(model)["drift"].add([r.sensitivity for r in results])
        response.headers["X-Model-Version"] = model.name
        return model

    async def _enqueue(results: list[Any], article_id: str, model: Moderator, ids: list[str | None] | None,
                       headline: Any = None, headline_index: int | None = None) -> list[int]:
        if queue is None:
            return []
        thresholds = {c: model.policy.threshold(c, model.thresholds) for c in model.categories}
        return await run_in_threadpool(queue.enqueue, results, article_id=article_id, model_version=model.name,
                                       paragraph_ids=ids, thresholds=thresholds, headline=headline,
                                       headline_index=headline_index)

    # -- review ---------------------------------------------------------------------------------
    def need_queue() -> ReviewQueue:
        if queue is None:
            raise HTTPException(503, "this server runs without a review queue")
        return queue

    review = {"dependencies": auth, "tags": ["review"]}

    @app.post("/v1/review/next", response_model=ReviewItemOut, responses={204: {"description": "nothing waits"}},
              **review)
    def review_next(body: NextRequest, request: Request) -> Any:
        """Lease the most urgent waiting item to ``reviewer`` (204 when none waits)."""
        item = need_queue().next(body.reviewer, body.lease_seconds, order=body.order or settings.review_order)
        _state(request)["log"].update(reviewer=body.reviewer, item=item.id if item else None)
        return item.to_dict() if item else Response(status_code=204)

    @app.get("/v1/review/items/{item_id}", response_model=ReviewItemOut, **review)
    def review_get(item_id: int) -> dict[str, Any]:
        return need_queue().get(item_id).to_dict()

    @app.post("/v1/review/items/{item_id}/decision", response_model=ReviewItemOut, **review)
    def review_decide(item_id: int, body: DecisionRequest, request: Request) -> dict[str, Any]:
        """Confirm the model's labels, or correct the topic and/or categories (the full list that applies)."""
        item = need_queue().decide(item_id, body.reviewer, body.decision, topic=body.topic,
                                   categories=body.categories, note=body.note)
        _state(request)["log"].update(reviewer=body.reviewer, item=item_id, decision=body.decision)
        return item.to_dict()

    @app.post("/v1/review/items/{item_id}/release", response_model=ReviewItemOut, **review)
    def review_release(item_id: int, body: ReviewerRequest, request: Request) -> dict[str, Any]:
        """Hand a leased item back to the line."""
        _state(request)["log"].update(reviewer=body.reviewer, item=item_id)
        return need_queue().release(item_id, body.reviewer).to_dict()

    @app.get("/v1/review/stats", response_model=QueueStats, **review)
    def review_stats() -> dict[str, Any]:
        return need_queue().stats()

    @app.get("/v1/review/report", response_model=QueueReport, **review)
    def review_report(days: int = Query(14, ge=1, le=366)) -> dict[str, Any]:
        """Stats, decisions per day and by reviewer, and how often reviewers agreed with the model."""
        return need_queue().report(days)

    @app.get("/v1/review/export", response_class=StreamingResponse, **review,
             responses={200: {"content": {"application/x-ndjson": {}},
                              "description": "decisions as training-data rows, one JSON object a line"}})
    def review_export(
        since: str | None = Query(None, description="date or ISO datetime (UTC when naive)"),
        license: str = Query(DEFAULT_LICENSE, max_length=200, description="licence of the moderated content"),
    ) -> StreamingResponse:
        """Decisions as rows of the training data schema (as ``modcls review export``)."""
        q = need_queue()
        from ..review.store import parse_since

        start = parse_since(since) if since else None

        def rows() -> Iterator[str]:
            for item in q.decisions(start):
                yield json.dumps(training_row(item, q.queue_id, license), ensure_ascii=False) + "\n"

        return StreamingResponse(rows(), media_type="application/x-ndjson")

    return app


# -- helpers ------------------------------------------------------------------------------------------
def model_folder(model: Moderator, settings: ServerSettings) -> Path | None:
    """The folder the served model was read from."""
    folder = getattr(model, "model_dir", None) or settings.model
    if folder is None and model.name == _default_version():
        folder = DEFAULT_MODEL_DIR
    return Path(folder) if folder is not None else None


def _default_version() -> str | None:
    try:
        return json.loads((DEFAULT_MODEL_DIR / "config.json").read_text(encoding="utf-8")).get("model_version")
    except (OSError, ValueError):
        return None


def model_loader(settings: ServerSettings, folder: str | None) -> Callable[[], Moderator]:
    """Load ``folder`` (None: the shipped default model) with the server's policy and precision."""

    def load() -> Moderator:
        return Moderator.from_pretrained(folder, policy=settings.policy, precision=settings.precision)

    return load


def headline_metrics(model_dir: Path | None) -> dict[str, Any] | None:
    """Per split and data source: rows, topic accuracy and macro-F1, mean and per-category F1/recall.

    Read from ``metrics.json`` in the model folder (written by ``modcls train``); None when absent.
    """
    if model_dir is None:
        return None
    path = Path(model_dir) / "metrics.json"
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return None
    out: dict[str, Any] = {}
    for split, sources in (data.get("model") or {}).items():
        for source, figures in (sources or {}).items():
            topic = figures.get("topic") or {}
            cats = figures.get("sensitivity") or {}
            f1s = [c["f1"] for c in cats.values() if c.get("positives")]
            out.setdefault(split, {})[source] = {
                "rows": figures.get("rows"),
                "topic_accuracy": _round(topic.get("accuracy")),
                "topic_macro_f1": _round(topic.get("macro_f1")),
                "sensitivity_mean_f1": _round(sum(f1s) / len(f1s)) if f1s else None,
                "sensitivity": {c: {"f1": _round(v.get("f1")), "recall": _round(v.get("recall")),
                                    "positives": v.get("positives")} for c, v in cats.items()},
            }
    if "calibration" in data:
        out["calibration_rule"] = data["calibration"].get("rule")
    return out


def _round(value: Any) -> Any:
    return round(value, 4) if isinstance(value, float) else value


def _count(values: Iterator[str]) -> dict[str, int]:
    counts: dict[str, int] = {}
    for v in values:
        counts[v] = counts.get(v, 0) + 1
    return counts


def _check_length(text: object, what: str, limit: int) -> None:
    if isinstance(text, str) and len(text) > limit:
        raise HTTPException(413, f"{what} has {len(text):,} characters; the limit is {limit:,}")


def _bearer_check(token: str) -> Callable[..., None]:
    bearer = HTTPBearer(auto_error=False, description="MODCLS_API_TOKEN")
    expected = token.encode()

    session = review_page.session_value(token).encode()

    def check(request: Request, credentials: HTTPAuthorizationCredentials | None = Depends(bearer)) -> None:
        given = credentials.credentials.encode() if credentials else b""
        if secrets.compare_digest(given, expected):
            return
        # the review page's session cookie (set by signing in with the token; SameSite=Strict)
        cookie = request.cookies.get(review_page.COOKIE, "").encode()
        if not (cookie and secrets.compare_digest(cookie, session)):
            raise HTTPException(401, "missing or wrong bearer token", headers={"WWW-Authenticate": "Bearer"})

    return check


def _state(request: Request) -> dict[str, Any]:
    return request.scope.setdefault("state", {}).setdefault("modcls", {"log": {}})


def _log_fields(request: Request, stats: RunStats, **fields: Any) -> None:
    _state(request)["log"].update(fields, wait_ms=stats.wait_ms, model_ms=stats.model_ms)


class _RequestLog:
    """One JSON log line per request: id, method, route, status, milliseconds, and the endpoint's fields."""

    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        headers = dict(scope.get("headers") or [])
        given = headers.get(b"x-request-id", b"").decode("latin-1")
        request_id = given if _REQUEST_ID.match(given) else uuid.uuid4().hex[:16]
        state = scope.setdefault("state", {}).setdefault("modcls", {"log": {}})
        state["request_id"] = request_id
        status = 500
        started = time.perf_counter()

        async def send_with_id(message: Message) -> None:
            nonlocal status
            if message["type"] == "http.response.start":
                status = message["status"]
                message.setdefault("headers", [])
                message["headers"] = [*message["headers"], (b"x-request-id", request_id.encode())]
            await send(message)

        try:
            await self.app(scope, receive, send_with_id)
        finally:
            route = scope.get("route")
            level = logging.INFO if status < 500 else logging.WARNING if status == 503 else logging.ERROR
            log_event("request", level, request_id=request_id, method=scope.get("method"),
                      path=getattr(route, "path", None) or scope.get("path"), status=status,
                      ms=round((time.perf_counter() - started) * 1000, 2), **state["log"])


class _BodyLimit:
    """413 for bodies over ``limit`` bytes: at once from Content-Length, else while the body streams in."""

    def __init__(self, app: ASGIApp, limit: int) -> None:
        self.app = app
        self.limit = limit

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        message = f"the request body is over the limit of {self.limit:,} bytes"
        length = dict(scope.get("headers") or []).get(b"content-length")
        if length is not None and length.isdigit() and int(length) > self.limit:
            response = JSONResponse({"detail": message}, status_code=413)
            await response(scope, receive, send)
            return
        received = 0

        async def limited() -> Message:
            nonlocal received
            msg = await receive()
            if msg["type"] == "http.request":
                received += len(msg.get("body", b""))
                if received > self.limit:
                    raise HTTPException(413, message)
            return msg

        await self.app(scope, limited, send)
