"""Prometheus metrics of the server (``GET /metrics``, the official ``prometheus-client``).

Families: requests by route, method and status; request latency, time waiting for the model and time in
the model (histograms); paragraphs by route and topic; flags by category; review queue depth by route and
priority and the oldest waiting item's age (read from the queue at scrape time); the model's version and
engine; score drift per category against the model's reference (:mod:`modcls.drift`). Each app has its
own registry, so that several apps in one process (tests) do not share counters.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Iterator, Sequence
from typing import Any

from prometheus_client import CollectorRegistry, Counter, Histogram
from prometheus_client.core import GaugeMetricFamily, InfoMetricFamily, Metric
from prometheus_client.exposition import CONTENT_TYPE_LATEST, generate_latest
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from ..results import ParagraphResult

PREFIX = "modcls"
LATENCY_BUCKETS = (0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0, 30.0)


class ServerMetrics:
    """The metric families of one app. ``state`` gives, at scrape time, what is read rather than counted:
    a callable returning ``{"model": info or None, "drift": report or None, "queue": stats or None}``.
    """

    def __init__(self, state: Callable[[], dict[str, Any]]) -> None:
        self.registry = CollectorRegistry(auto_describe=True)
        self.requests = Counter(f"{PREFIX}_http_requests", "HTTP requests answered, by route, method and status",
                                ["route", "method", "status"], registry=self.registry)
        self.latency = Histogram(f"{PREFIX}_http_request_duration_seconds", "Time to answer a request, by route",
                                 ["route"], buckets=LATENCY_BUCKETS, registry=self.registry)
        self.model_wait = Histogram(f"{PREFIX}_model_wait_seconds", "Time a request waited for the model thread",
                                    buckets=LATENCY_BUCKETS, registry=self.registry)
        self.model_time = Histogram(f"{PREFIX}_model_seconds", "Time a request spent in the model",
                                    buckets=LATENCY_BUCKETS, registry=self.registry)
        self.paragraphs = Counter(f"{PREFIX}_paragraphs", "Paragraphs labelled, by route and topic",
                                  ["route", "topic"], registry=self.registry)
        self.flags = Counter(f"{PREFIX}_flags", "Sensitivity flags raised, by category", ["category"],
                             registry=self.registry)
        self.registry.register(_StateCollector(state))

    def observe_request(self, route: str, method: str, status: int, seconds: float) -> None:
        self.requests.labels(route, method, str(status)).inc()
        self.latency.labels(route).observe(seconds)

    def observe_model(self, wait_ms: float, model_ms: float) -> None:
        self.model_wait.observe(wait_ms / 1000)
        self.model_time.observe(model_ms / 1000)

    def observe_results(self, results: Sequence[ParagraphResult]) -> None:
        for r in results:
            self.paragraphs.labels(r.route, r.topic).inc()
            for flag in r.flags:
                self.flags.labels(flag).inc()

    def render(self) -> tuple[bytes, str]:
        """The exposition text and its content type."""
        return generate_latest(self.registry), CONTENT_TYPE_LATEST


class _StateCollector:
    """Gauges read at scrape time: model info, drift, queue depth and age."""

    def __init__(self, state: Callable[[], dict[str, Any]]) -> None:
        self.state = state

    def describe(self) -> list[Metric]:
        return []  # collected on each scrape only (the queue is read then)

    def collect(self) -> Iterator[Metric]:
        state = self.state()
        model = state.get("model")
        info = InfoMetricFamily(f"{PREFIX}_model", "The model that answers: version, engine (precision), folder")
        if model:
            info.add_metric([], {k: str(v) for k, v in model.items()})
        yield info
        loaded = GaugeMetricFamily(f"{PREFIX}_model_loaded_timestamp_seconds", "When the serving model was loaded")
        if model and state.get("loaded_at"):
            loaded.add_metric([], state["loaded_at"])
        yield loaded
        yield from _drift_metrics(state.get("drift"))
        yield from _queue_metrics(state.get("queue"))


def _drift_metrics(drift: dict[str, Any] | None) -> Iterator[Metric]:
    available = GaugeMetricFamily(f"{PREFIX}_drift_available",
                                  "1 when the model folder has a score reference (score_reference.json), else 0")
    window = GaugeMetricFamily(f"{PREFIX}_drift_window_paragraphs", "Paragraphs in the rolling drift window")
    psi = GaugeMetricFamily(f"{PREFIX}_score_drift_psi",
                            "Population stability index of each category's score over the rolling window against "
                            "the model's validation scores (0.1: moving, 0.25: a different population)",
                            labels=["category"])
    mean = GaugeMetricFamily(f"{PREFIX}_score_mean", "Mean score of each category over the rolling window",
                             labels=["category"])
    if drift is not None:
        available.add_metric([], 1.0 if drift.get("available") else 0.0)
        window.add_metric([], float(drift.get("window", 0)))
        for c, v in (drift.get("categories") or {}).items():
            psi.add_metric([c], v["psi"])
            mean.add_metric([c], v["mean"])
    yield from (available, window, psi, mean)


def _queue_metrics(stats: dict[str, Any] | None) -> Iterator[Metric]:
    depth = GaugeMetricFamily(f"{PREFIX}_review_queue_waiting", "Review items waiting, by route and priority",
                              labels=["route", "priority"])
    counts = GaugeMetricFamily(f"{PREFIX}_review_queue_items", "Review items by status", labels=["status"])
    oldest = GaugeMetricFamily(f"{PREFIX}_review_queue_oldest_waiting_seconds", "Age of the oldest waiting item")
    if stats is not None:
        for key, n in stats.get("waiting", {}).items():
            route, priority = key.split("/", 1)
            depth.add_metric([route, priority], n)
        for status in ("pending", "leased", "decided"):
            counts.add_metric([status], stats.get(status, 0))
        oldest.add_metric([], stats.get("oldest_waiting_seconds") or 0.0)
    yield from (depth, counts, oldest)


class MetricsMiddleware:
    """Counts every HTTP answer by route template (``unmatched`` for unknown paths) and times it."""

    def __init__(self, app: ASGIApp, metrics: ServerMetrics) -> None:
        self.app = app
        self.metrics = metrics

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        status = 500
        started = time.perf_counter()

        async def send_status(message: Message) -> None:
            nonlocal status
            if message["type"] == "http.response.start":
                status = message["status"]
            await send(message)

        try:
            await self.app(scope, receive, send_status)
        finally:
            route = getattr(scope.get("route"), "path", None) or "unmatched"
            self.metrics.observe_request(route, scope.get("method", ""), status, time.perf_counter() - started)
