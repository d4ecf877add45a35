"""The ``modcls serve`` REST API: a thin FastAPI face over one :class:`modcls.Moderator` and the review queue.

Needs the ``serve`` extra (``pip install modcls[serve]``). Build an app with
:func:`modcls.server.app.create_app`; settings come from :class:`modcls.server.settings.ServerSettings`.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from .app import create_app
    from .settings import ServerSettings

__all__ = ["ServerSettings", "create_app"]


def __getattr__(name: str) -> Any:
    if name == "create_app":
        from .app import create_app

        return create_app
    if name == "ServerSettings":
        from .settings import ServerSettings

        return ServerSettings
    raise AttributeError(f"module 'modcls.server' has no attribute {name!r}")
