"""JSON-lines logging for the server: one object per line with time, level, event and fields.

Request logs carry ids, routes, counts and timings — never paragraph text, unless the server runs with
the debug flag ``log_text`` (moderation content is sensitive).
"""

from __future__ import annotations

import json
import logging
import time
from typing import Any

LOGGER_NAME = "modcls.server"
logger = logging.getLogger(LOGGER_NAME)


class JsonFormatter(logging.Formatter):
    """``{"ts": ..., "level": ..., "logger": ..., "event": ..., **fields}`` on one line."""

    def format(self, record: logging.LogRecord) -> str:
        data: dict[str, Any] = {
            "ts": time.strftime("%Y-%m-%dT%H:%M:%S", time.gmtime(record.created)) + f".{int(record.msecs):03d}Z",
            "level": record.levelname.lower(),
            "logger": record.name,
            "event": record.getMessage(),
        }
        data.update(getattr(record, "fields", None) or {})
        if record.exc_info:
            data["error"] = self.formatException(record.exc_info)
        return json.dumps(data, ensure_ascii=False, default=str)


def log_event(event: str, level: int = logging.INFO, **fields: Any) -> None:
    """Log ``event`` with ``fields`` (put no paragraph text in them unless the debug flag allows it)."""
    logger.log(level, event, extra={"fields": fields})


def configure_logging(level: str = "info") -> None:
    """Send modcls and uvicorn logs to stderr as JSON lines; run uvicorn with ``log_config=None`` after this."""
    import logging.config

    logging.config.dictConfig(log_config(level))


def log_config(level: str = "info") -> dict[str, Any]:
    """modcls and uvicorn loggers to stderr as JSON lines; uvicorn's access log off (ours replaces it)."""
    return {
        "version": 1,
        "disable_existing_loggers": False,
        "formatters": {"json": {"()": JsonFormatter}},
        "handlers": {"stderr": {"class": "logging.StreamHandler", "formatter": "json", "stream": "ext://sys.stderr"}},
        "loggers": {
            "uvicorn": {"handlers": ["stderr"], "level": level.upper(), "propagate": False},
            "uvicorn.error": {"handlers": ["stderr"], "level": level.upper(), "propagate": False},
            "uvicorn.access": {"handlers": [], "level": "CRITICAL", "propagate": False},
            LOGGER_NAME: {"handlers": ["stderr"], "level": level.upper(), "propagate": False},
        },
    }
