"""The human-review queue: routed paragraphs wait here for a reviewer's decision, which becomes training data.

``ReviewQueue`` (in :mod:`modcls.review.store`) needs SQLAlchemy (``pip install modcls[serve]``); it is
imported on first use so that ``import modcls.review`` stays free of it.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from .store import Conflict, NotFound, ReviewError, ReviewItem, ReviewQueue

__all__ = ["Conflict", "NotFound", "ReviewError", "ReviewItem", "ReviewQueue"]


def __getattr__(name: str) -> Any:
    if name in __all__:
        from . import store

        return getattr(store, name)
    raise AttributeError(f"module 'modcls.review' has no attribute {name!r}")
