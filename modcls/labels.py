"""The label sets of the modcls taxonomy (v1): topics, sensitivity categories, routes and priorities."""

from __future__ import annotations

from .errors import ModclsError

TAXONOMY_VERSION = "1"

#: Topic ids (IPTC Media Topics top level, plus page furniture), in head order.
TOPICS: tuple[str, ...] = (
    "arts_culture",
    "crime_justice",
    "disaster_accident",
    "economy",
    "education",
    "environment",
    "health",
    "human_interest",
    "labour",
    "lifestyle",
    "politics",
    "religion",
    "science_tech",
    "society",
    "sport",
    "conflict",
    "weather",
    "non_editorial",
)

#: IPTC Media Topic codes of the editorial topics.
IPTC_CODES: dict[str, str] = {
    topic: f"{i + 1:02d}000000" for i, topic in enumerate(TOPICS) if topic != "non_editorial"
}

#: Sensitivity categories, each an independent yes/no label, in head order.
CATEGORIES: tuple[str, ...] = (
    "child_sexual_abuse",
    "sexual_violence",
    "violent_crime",
    "terrorism",
    "drugs",
    "self_harm",
    "hate_speech",
)

#: Routes, from least to most severe.
ROUTES: tuple[str, ...] = ("allow", "review", "urgent_review")

#: Priorities, from lowest to highest. ``none`` goes with ``allow``.
PRIORITIES: tuple[str, ...] = ("none", "low", "normal", "high", "urgent")


class LabelError(ModclsError, ValueError):
    """A label that is not part of the taxonomy."""


def _check(value: str, allowed: tuple[str, ...], kind: str) -> str:
    if value not in allowed:
        raise LabelError(f"unknown {kind} {value!r}; expected one of: {', '.join(allowed)}")
    return value


def check_topic(topic: str) -> str:
    """Return ``topic`` if it is a taxonomy topic id, else raise :class:`LabelError`."""
    return _check(topic, TOPICS, "topic")


def check_category(category: str) -> str:
    """Return ``category`` if it is a sensitivity category id, else raise :class:`LabelError`."""
    return _check(category, CATEGORIES, "sensitivity category")


def check_route(route: str) -> str:
    """Return ``route`` if it is a known route, else raise :class:`LabelError`."""
    return _check(route, ROUTES, "route")


def check_priority(priority: str) -> str:
    """Return ``priority`` if it is a known priority, else raise :class:`LabelError`."""
    return _check(priority, PRIORITIES, "priority")


def severity(route: str, priority: str) -> tuple[int, int]:
    """Sort key: a higher tuple is a more severe decision."""
    return ROUTES.index(route), PRIORITIES.index(priority)
