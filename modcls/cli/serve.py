"""``modcls serve``: the REST API (FastAPI + uvicorn) over one model and the review queue."""

from __future__ import annotations

import argparse
from pathlib import Path

from ..inference import PRECISIONS


def register(sub: argparse._SubParsersAction) -> argparse.ArgumentParser:
    parser = sub.add_parser(
        "serve",
        help="serve the REST API (/v1/moderate, /v1/classify, /v1/review/...)",
        description="Every option also reads a MODCLS_* environment variable (see README); the command line "
        "wins. Set MODCLS_API_TOKEN to require 'Authorization: Bearer <token>' on /v1 routes.",
    )
    parser.add_argument("--host", help="address to bind (default 127.0.0.1)")
    parser.add_argument("--port", type=int, help="port (default 8000)")
    parser.add_argument("--model", metavar="DIR", help="model folder (default: the shipped default model)")
    parser.add_argument("--policy", metavar="FILE", help="routing policy override, JSON or YAML")
    parser.add_argument("--precision", choices=PRECISIONS, help="inference path (default: auto, chosen from the CPU)")
    parser.add_argument("--review-db", metavar="URL|PATH",
                        help="review queue: SQLAlchemy URL (postgresql://...) or SQLite file "
                        "(default: $MODCLS_HOME/review.sqlite)")
    parser.add_argument("--no-queue", action="store_true", help="queue nothing; review routes answer 503")
    parser.add_argument("--max-body-bytes", type=int, metavar="N", help="largest request body (default 2 MiB)")
    parser.add_argument("--max-paragraphs", type=int, metavar="N", help="paragraphs per /v1/classify (default 256)")
    parser.add_argument("--max-paragraph-chars", type=int, metavar="N",
                        help="characters per paragraph (default and maximum 100,000)")
    parser.add_argument("--threads", type=int, metavar="N", help="torch threads for the model (default 1)")
    parser.add_argument("--lease-seconds", type=int, metavar="N", help="review lease length (default 600)")
    parser.add_argument("--review-order", choices=("severity", "uncertainty"),
                        help="within a priority level: oldest first (severity, default) or the item whose scores "
                        "sit closest to their thresholds first (uncertainty)")
    parser.add_argument("--drift-window", type=int, metavar="N",
                        help="paragraphs in the rolling window compared with the model's score reference (1000)")
    parser.add_argument("--log-text", action="store_true", default=None,
                        help="DEBUG ONLY: write paragraph text into the logs")
    parser.add_argument("--log-level", choices=("debug", "info", "warning", "error"), help="default info")
    return parser


def _reload_on_sighup(app, settings) -> None:  # noqa: ANN001 - FastAPI app and ServerSettings, imported lazily
    """SIGHUP loads the served model folder again (e.g. after a retrain replaced it) and swaps it in."""
    import logging
    import signal
    import threading

    from ..server.app import model_loader
    from ..server.logs import log_event

    if not hasattr(signal, "SIGHUP"):
        return

    def reload() -> None:
        try:
            answer = app.state.runner.reload(model_loader(settings, settings.model))
            log_event("model_reloaded", signal="SIGHUP", **answer)
        except Exception as err:  # noqa: BLE001 - logged; the old model stays in service
            log_event("model_reload_failed", logging.ERROR, signal="SIGHUP", error=str(err))

    signal.signal(signal.SIGHUP, lambda *_: threading.Thread(target=reload, name="modcls-reload",
                                                                daemon=True).start())


def run(args: argparse.Namespace) -> int:
    import logging

    from .common import require_extra

    require_extra("serve", "fastapi", "uvicorn", "sqlalchemy")
    import uvicorn

    from ..engines.cpu import cpu_info
    from ..errors import ModelLoadError
    from ..moderator import Moderator, default_model_dir
    from ..policy import Policy
    from ..review.store import ReviewQueue
    from ..server.app import create_app
    from ..server.logs import configure_logging, log_event
    from ..server.settings import ServerSettings
    from . import CommandError

    settings = ServerSettings.from_env(
        host=args.host, port=args.port, model=args.model, policy=args.policy, precision=args.precision,
        review_db=args.review_db, max_body_bytes=args.max_body_bytes, max_paragraphs=args.max_paragraphs,
        max_paragraph_chars=args.max_paragraph_chars, threads=args.threads,
        lease_seconds=args.lease_seconds, log_text=args.log_text, log_level=args.log_level,
        review_order=args.review_order, drift_window=args.drift_window,
    )
    # Cheap checks first, so that a wrong path fails here rather than after the port opened.
    if settings.model is not None and not (Path(settings.model) / "config.json").is_file():
        raise ModelLoadError(f"not a model folder: {settings.model}")
    if settings.model is None:
        default_model_dir()
    if settings.policy is not None:
        Policy.from_file(settings.policy)
    configure_logging(settings.log_level)
    import torch

    torch.set_num_threads(settings.threads)
    if settings.log_text:
        log_event("log_text_enabled", logging.WARNING, note="paragraph text will be written to the logs")
    queue = None if args.no_queue else ReviewQueue(settings.review_db, lease_seconds=settings.lease_seconds,
                                                   order=settings.review_order)
    failure: list[BaseException] = []
    server: uvicorn.Server | None = None

    def load() -> Moderator:
        moderator = Moderator.from_pretrained(settings.model, policy=settings.policy, precision=settings.precision)
        log_event("model_loaded", model_version=moderator.name, precision=moderator.predictor.precision,
                  engine=moderator.predictor.engine_info, cpu=cpu_info().describe())
        return moderator

    def load_failed(err: BaseException) -> None:
        failure.append(err)
        log_event("model_load_failed", logging.ERROR, error=str(err))
        if server is not None:
            server.should_exit = True

    app = create_app(load, settings, queue, on_load_error=load_failed)
    config = uvicorn.Config(app, host=settings.host, port=settings.port, log_config=None, access_log=False,
                            timeout_graceful_shutdown=10)
    server = uvicorn.Server(config)
    if failure:
        server.should_exit = True
    _reload_on_sighup(app, settings)
    try:
        server.run()
    finally:
        if queue is not None:
            queue.close()
    if failure:
        raise CommandError(f"the model failed to load: {failure[0]}")
    return 0
