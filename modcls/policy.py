"""Routing policy: which flags and topics send a paragraph to review, and how urgently.

The default follows the taxonomy. A policy file (JSON or YAML) overrides any part of it::

    thresholds:            # per-category score thresholds (override the model's own)
      drugs: 0.6
    urgent_thresholds:     # upper thresholds of categories with an urgent tier (override the model's)
      child_sexual_abuse: 0.7
    categories:            # category -> route and priority when the category is flagged
      child_sexual_abuse:  # flagged: review (high); at or above its upper threshold: urgent_review
        {route: review, priority: high, urgent: {route: urgent_review, priority: urgent}}
      hate_speech: {route: allow}
    topics:                # topic -> route and priority when no category decided
      crime_justice: {route: review, priority: low}

Sections given in the file replace the default entries they name; the rest stay.
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from .errors import ModclsError
from .labels import (
    CATEGORIES,
    TOPICS,
    LabelError,
    check_category,
    check_priority,
    check_route,
    check_topic,
    severity,
)


class PolicyError(ModclsError, ValueError):
    """A policy that cannot be used: unknown labels, bad values or an unreadable file."""


@dataclass(frozen=True)
class Rule:
    """Where a flagged category or a topic sends a paragraph.

    ``urgent``: for a category, the rule that applies instead when its score also reaches the category's
    upper threshold (a second, more severe tier).
    """

    route: str
    priority: str
    urgent: Rule | None = None

    def __post_init__(self) -> None:
        check_route(self.route)
        check_priority(self.priority)
        if (self.route == "allow") != (self.priority == "none"):
            raise PolicyError(
                f"route {self.route!r} cannot have priority {self.priority!r}: "
                "'allow' goes with 'none' and only with it"
            )

    def to_dict(self) -> dict[str, Any]:
        out: dict[str, Any] = {"route": self.route, "priority": self.priority}
        if self.urgent is not None:
            out["urgent"] = self.urgent.to_dict()
        return out


ALLOW = Rule("allow", "none")

DEFAULT_CATEGORY_RULES: dict[str, Rule] = {
    "child_sexual_abuse": Rule("review", "high", urgent=Rule("urgent_review", "urgent")),
    "sexual_violence": Rule("review", "high"),
    "violent_crime": Rule("review", "high"),
    "terrorism": Rule("review", "high"),
    "self_harm": Rule("review", "high"),
    "drugs": Rule("review", "normal"),
    "hate_speech": Rule("review", "normal"),
}
DEFAULT_TOPIC_RULES: dict[str, Rule] = {"crime_justice": Rule("review", "low")}
DEFAULT_THRESHOLD = 0.5


@dataclass(frozen=True)
class Decision:
    """The policy's verdict on one paragraph."""

    route: str
    priority: str
    flags: list[str]
    reasons: list[str]


@dataclass(frozen=True)
class Policy:
    """Thresholds and routing rules. ``thresholds`` and ``urgent_thresholds`` may be partial: the model's
    fill the gaps; a category with an urgent rule and no upper threshold anywhere is urgent when flagged."""

    thresholds: dict[str, float] = field(default_factory=dict)
    urgent_thresholds: dict[str, float] = field(default_factory=dict)
    categories: dict[str, Rule] = field(default_factory=lambda: dict(DEFAULT_CATEGORY_RULES))
    topics: dict[str, Rule] = field(default_factory=lambda: dict(DEFAULT_TOPIC_RULES))

    def __post_init__(self) -> None:
        try:
            for section in (self.thresholds, self.urgent_thresholds):
                for name, value in section.items():
                    check_category(name)
                    if isinstance(value, bool) or not isinstance(value, (int, float)) or not 0.0 <= value <= 1.0:
                        raise PolicyError(f"threshold for {name!r} must be a number in [0, 1], got {value!r}")
            for name in self.categories:
                check_category(name)
            for name in self.topics:
                check_topic(name)
        except LabelError as err:
            raise PolicyError(str(err)) from None

    # -- construction -------------------------------------------------------------------------
    @classmethod
    def from_dict(cls, data: Mapping[str, Any], base: Policy | None = None) -> Policy:
        """Build a policy from a mapping; sections it names override ``base`` (default: the default)."""
        if not isinstance(data, Mapping):
            raise PolicyError("a policy must be a mapping with keys thresholds, urgent_thresholds, categories, topics")
        unknown = set(data) - {"thresholds", "urgent_thresholds", "categories", "topics"}
        if unknown:
            raise PolicyError(f"unknown policy section(s): {', '.join(sorted(unknown))}")
        base = base or cls()
        return cls(
            thresholds={**base.thresholds, **_mapping(data.get("thresholds"), "thresholds")},
            urgent_thresholds={**base.urgent_thresholds,
                               **_mapping(data.get("urgent_thresholds"), "urgent_thresholds")},
            categories={**base.categories, **_rules(data.get("categories") or {}, "categories")},
            topics={**base.topics, **_rules(data.get("topics") or {}, "topics")},
        )

    @classmethod
    def from_file(cls, path: str | Path, base: Policy | None = None) -> Policy:
        """Read a JSON or YAML policy file (by extension; ``.yaml``/``.yml`` are YAML)."""
        path = Path(path)
        try:
            raw = path.read_text(encoding="utf-8")
        except (OSError, UnicodeDecodeError) as err:
            raise PolicyError(f"cannot read policy file {path}: {err}") from None
        try:
            if path.suffix.lower() in {".yaml", ".yml"}:
                import yaml

                data = yaml.safe_load(raw)
            else:
                data = json.loads(raw)
        except Exception as err:  # noqa: BLE001 - parser errors vary by format
            raise PolicyError(f"policy file {path} does not parse: {err}") from None
        try:
            return cls.from_dict(data or {}, base=base)
        except PolicyError as err:
            raise PolicyError(f"policy file {path}: {err}") from None

    def to_dict(self) -> dict[str, Any]:
        return {
            "thresholds": dict(self.thresholds),
            "urgent_thresholds": dict(self.urgent_thresholds),
            "categories": {k: r.to_dict() for k, r in self.categories.items()},
            "topics": {k: r.to_dict() for k, r in self.topics.items()},
        }

    # -- decision -----------------------------------------------------------------------------
    def threshold(self, category: str, model_thresholds: Mapping[str, float] | None = None) -> float:
        """The threshold in force for ``category``: this policy's, else the model's, else 0.5."""
        if category in self.thresholds:
            return float(self.thresholds[category])
        if model_thresholds and category in model_thresholds:
            return float(model_thresholds[category])
        return DEFAULT_THRESHOLD

    def urgent_threshold(
        self, category: str, model_thresholds: Mapping[str, float] | None = None,
        model_urgent: Mapping[str, float] | None = None,
    ) -> float:
        """The upper threshold of ``category``: this policy's, else the model's, else its lower threshold."""
        if category in self.urgent_thresholds:
            return float(self.urgent_thresholds[category])
        if model_urgent and category in model_urgent:
            return float(model_urgent[category])
        return self.threshold(category, model_thresholds)

    def decide(
        self,
        topic: str,
        sensitivity: Mapping[str, float],
        model_thresholds: Mapping[str, float] | None = None,
        model_urgent: Mapping[str, float] | None = None,
    ) -> Decision:
        """Flag categories at or above their threshold and pick the most severe applicable rule.

        A flagged category whose rule has an urgent tier takes it at or above its upper threshold.
        """
        flags, reasons = [], []
        best = ALLOW
        for category in CATEGORIES:
            score = float(sensitivity.get(category, 0.0))
            cut = self.threshold(category, model_thresholds)
            if score < cut:
                continue
            flags.append(category)
            rule = self.categories.get(category, ALLOW)
            if rule.urgent is not None:
                upper = self.urgent_threshold(category, model_thresholds, model_urgent)
                if score >= upper:
                    rule, cut = rule.urgent, max(cut, upper)
            reasons.append(f"{category} {score:.2f} >= {cut:.2f} -> {rule.route} ({rule.priority})")
            if severity(rule.route, rule.priority) > severity(best.route, best.priority):
                best = rule
        if best == ALLOW and topic in self.topics:
            rule = self.topics[topic]
            if rule != ALLOW:
                reasons.append(f"topic {topic} -> {rule.route} ({rule.priority})")
                best = rule
        return Decision(best.route, best.priority, flags, reasons)


def _rules(section: Any, name: str) -> dict[str, Rule]:
    if not isinstance(section, Mapping):
        raise PolicyError(f"policy section {name!r} must be a mapping of label -> {{route, priority}}")
    rules = {}
    for label, spec in section.items():
        if isinstance(spec, str):
            spec = {"route": spec}
        if not isinstance(spec, Mapping) or "route" not in spec:
            raise PolicyError(f"{name}.{label}: expected {{route: ..., priority: ...}}, got {spec!r}")
        unknown = set(spec) - {"route", "priority", "urgent"}
        if unknown:
            raise PolicyError(f"{name}.{label}: unknown key(s) {', '.join(sorted(map(str, unknown)))}")
        route = spec["route"]
        priority = spec.get("priority", "none" if route == "allow" else "normal")
        urgent = None
        if spec.get("urgent") is not None:
            if name != "categories":
                raise PolicyError(f"{name}.{label}: only categories have an urgent tier")
            urgent = _rules({label: spec["urgent"]}, f"{name}.{label}.urgent")[label]
        try:
            rules[label] = Rule(route, priority, urgent)
        except LabelError as err:
            raise PolicyError(f"{name}.{label}: {err}") from None
    return rules


def _mapping(section: Any, name: str) -> dict[str, Any]:
    if section is None:
        return {}
    if not isinstance(section, Mapping):
        raise PolicyError(f"policy section {name!r} must be a mapping of category -> threshold")
    return dict(section)


__all__ = ["Decision", "Policy", "PolicyError", "Rule", "TOPICS", "CATEGORIES"]
