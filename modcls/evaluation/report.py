"""An evaluation report: figures per group of rows (all, provenance, source) and system, as JSON and PNGs.

Real and project-written rows are never blended unseen: every source has its own figures, and the groups
that mix sources say so in their name.
"""

from __future__ import annotations

import json
import re
from collections.abc import Sequence
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import numpy as np

from .. import __version__
from ..policy import Policy
from ..training.data import Example
from . import plots
from .data import EvalSet, display_path, provenance
from .predict import SystemOutput
from .references import must_review, urgent_reference
from .scores import (
    BOOTSTRAP,
    CONFIDENCE,
    ECE_BINS,
    SEED,
    calibration_figures,
    category_figures,
    routing_figures,
    topic_figures,
)

REPORT_VERSION = 1
_NUMBER_LIST = re.compile(r"\[\s*((?:-?[0-9][0-9.eE+-]*|null)(?:,\s*(?:-?[0-9][0-9.eE+-]*|null))*)\s*\]")


def groups_of(rows: Sequence[Example]) -> dict[str, list[int]]:
    """Row indices per group: ``all``, ``provenance:<p>`` (when it spans several sources and the data holds
    both provenances), ``source:<s>`` and, for paragraphs of articles, ``role:<r>`` (headline, story,
    teaser, furniture: a teaser must keep its own labels whatever its article's headline says)."""
    by_source: dict[str, list[int]] = {}
    for i, e in enumerate(rows):
        by_source.setdefault(e.source, []).append(i)
    groups: dict[str, list[int]] = {"all": list(range(len(rows)))}
    kinds: dict[str, list[str]] = {}
    for source in sorted(by_source):
        kinds.setdefault(provenance(source), []).append(source)
    if len(kinds) > 1:
        for kind, sources in sorted(kinds.items()):
            if len(sources) > 1:
                groups[f"provenance:{kind}"] = sorted(i for s in sources for i in by_source[s])
    for source in sorted(by_source):
        groups[f"source:{source}"] = by_source[source]
    by_role: dict[str, list[int]] = {}
    for i, e in enumerate(rows):
        if e.meta.get("role"):
            by_role.setdefault(str(e.meta["role"]), []).append(i)
    for role in sorted(by_role):
        groups[f"role:{role}"] = by_role[role]
    return groups


def system_figures(
    system: SystemOutput,
    rows: Sequence[Example],
    policy: Policy,
    *,
    bootstrap: int = BOOTSTRAP,
    seed: int = SEED,
    index: Sequence[int] | None = None,
) -> dict[str, Any]:
    """Topic, sensitivity, routing and calibration figures of ``system`` on ``rows`` (or the rows at ``index``)."""
    idx = list(range(len(rows))) if index is None else list(index)
    chosen = [rows[i] for i in idx]
    topic, sens, score = system.topic[idx], system.sensitivity[idx], system.review_score[idx]
    topics, sens_gold = [e.topic for e in chosen], [e.sensitivity for e in chosen]
    options = {"bootstrap": bootstrap, "seed": seed}
    return {
        "rows": len(idx),
        "topic": topic_figures(topic, topics, system.topics, details=True, **options),
        "sensitivity": category_figures(sens, sens_gold, system.categories, system.thresholds, details=True,
                                        **options),
        "routing": routing_figures([system.routes[i] for i in idx], [must_review(e) for e in chosen],
                                   [urgent_reference(e, policy) for e in chosen], score, **options),
        "calibration": calibration_figures(topic, topics, sens, sens_gold, system.topics, system.categories,
                                           **options),
        "review_recall": review_recall(system, chosen, idx),
        "pairs": pair_accuracy(system, chosen, idx),
    }


def review_recall(system: SystemOutput, rows: Sequence[Example], idx: Sequence[int]) -> dict[str, Any]:
    """Per category: of the paragraphs labelled with it, the share routed to any review (review or urgent)."""
    out = {}
    for c in system.categories:
        pos = [k for k, e in enumerate(rows) if e.sensitivity.get(c) == 1]
        if pos:
            hit = sum(system.routes[idx[k]] != "allow" for k in pos)
            out[c] = {"positives": len(pos), "routed_to_review": hit, "recall": round(hit / len(pos), 4)}
    return out


def pair_accuracy(system: SystemOutput, rows: Sequence[Example], idx: Sequence[int]) -> dict[str, Any] | None:
    """Minimal pairs (rows sharing ``meta.pair``): the share whose two halves both get right every label
    on which the halves differ (the topic if it differs; each category that differs, flagged or not at
    the system's thresholds). Per family too. None when the rows hold no complete pair."""
    halves: dict[str, list[int]] = {}
    for k, e in enumerate(rows):
        if e.meta.get("pair"):
            halves.setdefault(str(e.meta["pair"]), []).append(k)
    total, right, families = 0, 0, {}
    for members in halves.values():
        if len(members) != 2:
            continue
        a, b = (rows[k] for k in members)
        differ = [c for c in system.categories if a.sensitivity.get(c) != b.sensitivity.get(c)]
        ok = True
        for k in members:
            e, j = rows[k], idx[k]
            if a.topic != b.topic and e.topic is not None:
                ok &= system.topics[int(system.topic[j].argmax())] == e.topic
            for c in differ:
                if c in e.sensitivity:
                    flagged = system.sensitivity[j][system.categories.index(c)] >= system.thresholds[c]
                    ok &= int(flagged) == e.sensitivity[c]
        family = str(a.meta.get("family", "?"))
        n, r = families.get(family, (0, 0))
        families[family] = (n + 1, r + int(ok))
        total, right = total + 1, right + int(ok)
    if not total:
        return None
    return {"pairs": total, "correct": right, "accuracy": round(right / total, 4),
            "families": {f: {"pairs": n, "accuracy": round(r / n, 4)} for f, (n, r) in sorted(families.items())}}


def build_report(
    data: EvalSet,
    systems: Sequence[SystemOutput],
    policy: Policy,
    *,
    bootstrap: int = BOOTSTRAP,
    seed: int = SEED,
    model_dir: str | Path | None = None,
) -> dict[str, Any]:
    """Figures of every system on every group of ``data.rows``."""
    groups = {}
    for name, idx in groups_of(data.rows).items():
        sources = sorted({data.rows[i].source for i in idx})
        groups[name] = {
            "rows": len(idx),
            "sources": sources,
            "provenance": sorted({provenance(s) for s in sources}),
            "results": {s.name: system_figures(s, data.rows, policy, bootstrap=bootstrap, seed=seed, index=idx)
                        for s in systems},
        }
    return {
        "report_version": REPORT_VERSION,
        "modcls_version": __version__,
        "created": datetime.now(UTC).isoformat(timespec="seconds"),
        "model_dir": display_path(model_dir) if model_dir is not None else None,
        "systems": {s.name: s.info | {"thresholds": s.thresholds} for s in systems},
        "data": data.describe(),
        "settings": {"bootstrap_resamples": bootstrap, "seed": seed, "confidence": CONFIDENCE,
                     "interval": "bootstrap percentile, rows resampled with replacement", "ece_bins": ECE_BINS,
                     "must_review": "any sensitivity category is 1, or topic crime_justice",
                     "urgent_reference": "the policy's route for the gold labels is urgent_review"},
        "groups": groups,
    }


def slug(name: str) -> str:
    """A file-name-safe form of a group name."""
    return re.sub(r"[^a-z0-9]+", "-", name.lower()).strip("-")


def write_plots(report: dict[str, Any], out_dir: Path, topics: Sequence[str], categories: Sequence[str]) -> None:
    """Draw every group's PNGs into ``out_dir``; record their file names under ``group["plots"]``."""
    for name, group in report["groups"].items():
        results, base, files = group["results"], slug(name), {}
        label = f"{name} ({group['rows']} rows)"
        confusion = {}
        for system, r in results.items():
            if r["topic"].get("support"):
                file = f"{base}_confusion_{slug(system)}.png"
                plots.confusion_png(r["topic"]["confusion_matrix"], topics,
                                    f"Topic confusion, {system}: {label}, {r['topic']['support']} with a topic",
                                    out_dir / file)
                confusion[system] = file
        if confusion:
            files["confusion"] = confusion
        if any(c.get("positives") for r in results.values() for c in r["sensitivity"].values()):
            files["pr"] = f"{base}_pr.png"
            plots.pr_png({s: r["sensitivity"] for s, r in results.items()}, categories,
                         f"Sensitivity precision-recall: {label}", out_dir / files["pr"])
        if any(r["calibration"][h].get("count") for r in results.values() for h in ("topic", "sensitivity")):
            files["reliability"] = f"{base}_reliability.png"
            plots.reliability_png({s: r["calibration"] for s, r in results.items()},
                                  f"Reliability: {label}", out_dir / files["reliability"])
        if any(r["routing"].get("budget_curve") for r in results.values()):
            files["budget"] = f"{base}_budget.png"
            plots.budget_png({s: r["routing"] for s, r in results.items()}, f"Review budget: {label}",
                             out_dir / files["budget"])
        group["plots"] = files


def write_report(report: dict[str, Any], out_dir: str | Path, topics: Sequence[str], categories: Sequence[str],
                 *, draw: bool = True) -> Path:
    """Write PNGs, ``report.json`` and ``report.md`` into ``out_dir``; return the folder."""
    from .markdown import report_markdown

    out = Path(out_dir)
    out.mkdir(parents=True, exist_ok=True)
    if draw:
        write_plots(report, out, topics, categories)
    text = json.dumps(report, indent=1, ensure_ascii=False, default=_json_default)
    # lists of plain numbers on one line each: curves and matrices stay readable and small
    text = _NUMBER_LIST.sub(lambda m: "[" + " ".join(m.group(1).split()) + "]", text)
    (out / "report.json").write_text(text + "\n", encoding="utf-8")
    (out / "report.md").write_text(report_markdown(report), encoding="utf-8")
    return out


def load_report(report_dir: str | Path) -> dict[str, Any]:
    """Read ``report.json`` from a report folder."""
    return json.loads((Path(report_dir) / "report.json").read_text(encoding="utf-8"))


def _json_default(value: Any) -> Any:
    if isinstance(value, np.generic):
        return value.item()
    raise TypeError(f"not JSON serialisable: {type(value).__name__}")
