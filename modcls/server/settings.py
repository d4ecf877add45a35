"""Server settings: defaults, overridden by ``MODCLS_*`` environment variables, overridden by the command line."""

from __future__ import annotations

import dataclasses
import os
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

from ..errors import ModclsError
from ..moderator import MAX_TEXT_CHARS

#: Field -> environment variable read by :meth:`ServerSettings.from_env`.
ENV_VARS: dict[str, str] = {
    "host": "MODCLS_HOST",
    "port": "MODCLS_PORT",
    "model": "MODCLS_MODEL",
    "policy": "MODCLS_POLICY",
    "precision": "MODCLS_PRECISION",
    "review_db": "MODCLS_REVIEW_DB",
    "api_token": "MODCLS_API_TOKEN",
    "max_body_bytes": "MODCLS_MAX_BODY_BYTES",
    "max_paragraphs": "MODCLS_MAX_PARAGRAPHS",
    "max_paragraph_chars": "MODCLS_MAX_PARAGRAPH_CHARS",
    "threads": "MODCLS_THREADS",
    "lease_seconds": "MODCLS_LEASE_SECONDS",
    "log_text": "MODCLS_LOG_TEXT",
    "log_level": "MODCLS_LOG_LEVEL",
    "review_order": "MODCLS_REVIEW_ORDER",
    "drift_window": "MODCLS_DRIFT_WINDOW",
}


class SettingsError(ModclsError, ValueError):
    """A server setting out of range or of the wrong type."""


@dataclass
class ServerSettings:
    """How ``modcls serve`` runs. ``api_token`` is never shown in ``repr``."""

    host: str = "127.0.0.1"
    port: int = 8000
    model: str | None = None
    policy: str | None = None
    precision: str = "auto"
    #: Review queue: a SQLAlchemy URL or a SQLite file path (None: ``$MODCLS_HOME/review.sqlite``).
    review_db: str | None = None
    #: When set, every ``/v1`` request needs ``Authorization: Bearer <token>``.
    api_token: str | None = field(default=None, repr=False)
    #: Largest request body, in bytes (413 above).
    max_body_bytes: int = 2 * 1024 * 1024
    #: Most paragraphs in one ``/v1/classify`` request (413 above).
    max_paragraphs: int = 256
    #: Most characters in one paragraph or article (413 above); at most ``MAX_TEXT_CHARS``.
    max_paragraph_chars: int = MAX_TEXT_CHARS
    #: Paragraphs per model batch (within one request).
    batch_size: int = 32
    #: Torch threads for the model, set by ``modcls serve``. One is fastest on a shared 2-core machine
    #: (README); raise it on a dedicated machine with more cores, or run one process per core.
    threads: int = 1
    lease_seconds: int = 600
    #: Debug only: put paragraph text in the logs (moderation content is sensitive; off by default).
    log_text: bool = False
    log_level: str = "info"
    #: Order of the review line within a priority level: ``severity`` (oldest first) or ``uncertainty``.
    review_order: str = "severity"
    #: Paragraphs in the rolling window compared with the model's score reference (drift).
    drift_window: int = 1000

    def __post_init__(self) -> None:
        for name in ("port", "max_body_bytes", "max_paragraphs", "max_paragraph_chars", "batch_size", "threads",
                     "lease_seconds", "drift_window"):
            if getattr(self, name) < 1:
                raise SettingsError(f"{name} must be at least 1, got {getattr(self, name)}")
        if self.max_paragraph_chars > MAX_TEXT_CHARS:
            raise SettingsError(f"max_paragraph_chars cannot exceed {MAX_TEXT_CHARS:,} "
                                "(modcls.moderator.MAX_TEXT_CHARS)")
        if self.review_order not in ("severity", "uncertainty"):
            raise SettingsError(f"review_order must be severity or uncertainty, got {self.review_order!r}")
        if self.api_token is not None and not self.api_token.strip():
            self.api_token = None

    @classmethod
    def from_env(cls, environ: Mapping[str, str] | None = None, **overrides: Any) -> ServerSettings:
        """Defaults, then ``MODCLS_*`` variables, then ``overrides`` whose value is not None."""
        environ = os.environ if environ is None else environ
        types = {f.name: f.type for f in dataclasses.fields(cls)}
        values: dict[str, Any] = {}
        for name, var in ENV_VARS.items():
            raw = environ.get(var)
            if raw is not None and raw != "":
                values[name] = _parse(raw, types[name], var)
        values.update({k: v for k, v in overrides.items() if v is not None})
        return cls(**values)


def _parse(raw: str, kind: Any, var: str) -> Any:
    kind = str(kind)
    if kind.startswith("int"):
        try:
            return int(raw)
        except ValueError:
            raise SettingsError(f"{var} must be an integer, got {raw!r}") from None
    if kind.startswith("bool"):
        if raw.strip().lower() in {"1", "true", "yes", "on"}:
            return True
        if raw.strip().lower() in {"0", "false", "no", "off"}:
            return False
        raise SettingsError(f"{var} must be true or false, got {raw!r}")
    return raw
