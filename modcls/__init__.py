"""modcls: topic and sensitivity labels for French news paragraphs, and routing to human review.

>>> from modcls import Moderator
>>> moderator = Moderator.from_pretrained()
>>> result = moderator.moderate(article_text)
>>> result.route, result.evidence
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

__version__ = "0.1.0"

from .errors import InputError, ModclsError
from .labels import CATEGORIES, ROUTES, TOPICS
from .policy import Policy, PolicyError
from .results import ArticleResult, ParagraphResult
from .segmentation import Paragraph, split_paragraphs

if TYPE_CHECKING:
    from .moderator import Moderator

__all__ = [
    "CATEGORIES",
    "ROUTES",
    "TOPICS",
    "ArticleResult",
    "InputError",
    "ModclsError",
    "Moderator",
    "Paragraph",
    "ParagraphResult",
    "Policy",
    "PolicyError",
    "split_paragraphs",
]


def __getattr__(name: str) -> Any:
    # The model layer imports torch: load it only when asked for.
    if name == "Moderator":
        from .moderator import Moderator

        return Moderator
    raise AttributeError(f"module 'modcls' has no attribute {name!r}")
