"""``report.md``: the report's figures as Markdown tables, with its PNGs linked."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

#: Decimals of every figure written in Markdown (report and model card).
DECIMALS = 3


def fmt(value: float | None) -> str:
    """A figure as written in tables: fixed decimals, or ``n/a``."""
    return "n/a" if value is None else f"{value:.{DECIMALS}f}"


def fmt_ci(value: float | None, interval: Sequence[float] | None = None) -> str:
    """A figure with its interval: ``0.873 [0.851, 0.894]``."""
    if value is None:
        return "n/a"
    return fmt(value) + (f" [{fmt(interval[0])}, {fmt(interval[1])}]" if interval else "")


def table(header: Sequence[str], rows: Sequence[Sequence[Any]]) -> str:
    """A Markdown table."""
    lines = ["| " + " | ".join(header) + " |", "|" + "---|" * len(header)]
    lines += ["| " + " | ".join(str(c) for c in row) + " |" for row in rows]
    return "\n".join(lines)


def _ci(figures: dict[str, Any], key: str) -> str:
    return fmt_ci(figures.get(key), (figures.get("intervals") or {}).get(key))


def summary_rows(report: dict[str, Any]) -> list[list[str]]:
    """One row per group and system: the headline figures with their intervals."""
    rows = []
    for name, group in report["groups"].items():
        for system, r in group["results"].items():
            t, routing, cal = r["topic"], r["routing"], r["calibration"]
            rows.append([f"`{name}`", str(group["rows"]), system, str(t.get("support", 0)), _ci(t, "accuracy"),
                         _ci(t, "macro_f1"), _ci(routing, "must_review_recall"), _ci(routing, "routed_share"),
                         _ci(routing, "urgent_precision"), _ci(routing, "urgent_recall"),
                         _ci(cal["topic"], "ece"), _ci(cal["sensitivity"], "ece")])
    return rows


SUMMARY_HEADER = ["group", "rows", "system", "rows with topic", "topic accuracy", "topic macro-F1",
                  "must-review recall", "share routed", "urgent precision", "urgent recall", "ECE topic",
                  "ECE sensitivity"]


def report_markdown(report: dict[str, Any]) -> str:
    """The whole ``report.md``."""
    data, settings = report["data"], report["settings"]
    systems = list(report["systems"])
    out = ["# modcls evaluation report", ""]
    for name, info in report["systems"].items():
        desc = info.get("model_version") or info.get("kind")
        out.append(f"- **{name}**: {desc} ({info.get('kind')}"
                   + (f", base `{info['base_model']}`, {info.get('precision')}" if info.get("base_model") else "")
                   + ")")
    out += [f"- model folder: `{report.get('model_dir')}`", f"- created {report['created']}, modcls "
            f"{report['modcls_version']}",
            f"- intervals: {settings['confidence']:.0%} {settings['interval']}, {settings['bootstrap_resamples']} "
            f"resamples, seed {settings['seed']}; ECE with {settings['ece_bins']} equal-width bins",
            f"- must review: {settings['must_review']}; urgent reference: {settings['urgent_reference']}. "
            "Unknown labels are skipped, never counted as 0.", "", "## Data", ""]
    out.append(table(["source", "provenance", "rows", "licences"],
                     [[s, data["provenance"][s], n, ", ".join(data["licences"].get(s, ["?"]))]
                      for s, n in data["rows_by_source"].items()]))
    out.append("")
    for origin in data["origins"]:
        if origin["kind"] == "split":
            out.append(f"- split `{origin['split']}` of `{origin['config']}` (split file `{origin['splits_file']}`, "
                       f"sha256 {origin['splits_sha256'][:12]}…): {origin['rows']} rows; manifest checksums verified")
        else:
            out.append(f"- file `{origin['path']}` (sha256 {origin['sha256'][:12]}…): {origin['rows']} rows")
    out += ["", "## Summary", "", "Groups named `all` or `provenance:` mix sources; each source has its own row.",
            "", table(SUMMARY_HEADER, summary_rows(report)), ""]
    for name, group in report["groups"].items():
        out += _group_section(name, group, systems)
    return "\n".join(out) + "\n"


def _group_section(name: str, group: dict[str, Any], systems: list[str]) -> list[str]:
    results, files = group["results"], group.get("plots", {})
    out = [f"## `{name}`", "", f"{group['rows']} rows; sources: {', '.join(group['sources'])}.", "", "### Topic", ""]
    if any(r["topic"].get("support") for r in results.values()):
        out.append(table(["system", "rows with topic", "accuracy", "macro-F1", "micro-F1"],
                         [[s, r["topic"]["support"], _ci(r["topic"], "accuracy"), _ci(r["topic"], "macro_f1"),
                           _ci(r["topic"], "micro_f1")] for s, r in results.items()]))
        out.append("")
        first = results[systems[0]]["topic"]
        header = ["topic", "support"] + [f"{s} {m}" for s in systems for m in ("precision", "recall", "F1")]
        rows = []
        for topic, c in first["per_class"].items():
            row = [topic, c["support"]]
            for s in systems:
                cls = results[s]["topic"]["per_class"][topic]
                ci = results[s]["topic"].get("intervals", {}).get("per_class", {}).get(topic, {})
                row += [fmt(cls["precision"]), fmt(cls["recall"]), fmt_ci(cls["f1"], ci.get("f1"))]
            rows.append(row)
        out += [table(header, rows), ""]
        out += [f"![topic confusion, {s}]({f})" for s, f in files.get("confusion", {}).items()] + [""]
    else:
        out += ["No row with a known topic.", ""]
    out += ["### Sensitivity", ""]
    cats = list(results[systems[0]]["sensitivity"])
    if cats:
        header = ["category", "positives / known"] + [f"{s} {m}" for s in systems
                                                      for m in ("threshold", "precision", "recall", "F1", "AP")]
        rows = []
        for c in cats:
            first = results[systems[0]]["sensitivity"][c]
            row = [c, f"{first['positives']} / {first['support']}"]
            for s in systems:
                f = results[s]["sensitivity"][c]
                row += [fmt(f["threshold"]), _ci(f, "precision"), _ci(f, "recall"), _ci(f, "f1"),
                        _ci(f, "average_precision")]
            rows.append(row)
        out += [table(header, rows), ""]
        if "pr" in files:
            out += [f"![precision-recall curves]({files['pr']})", ""]
    else:
        out += ["No row with a known sensitivity label.", ""]
    out += ["### Routing", "", _routing_table(results, systems), ""]
    recall = results[systems[0]].get("review_recall") or {}
    if recall:
        out += ["Positives of each category routed to any review (review or urgent_review):", "",
                table(["category", "positives", *systems],
                      [[c, recall[c]["positives"]] + [fmt(results[s].get("review_recall", {}).get(c, {})
                                                          .get("recall")) for s in systems] for c in recall]), ""]
    if results[systems[0]].get("pairs"):
        fams = sorted(results[systems[0]]["pairs"]["families"])
        out += ["Minimal pairs: both halves right on every label that differs between them.", "",
                table(["family", *systems],
                      [["all", *[f"{fmt(results[s]['pairs']['accuracy'])} ({results[s]['pairs']['pairs']})"
                                 for s in systems]]]
                      + [[f, *[fmt(results[s]["pairs"]["families"].get(f, {}).get("accuracy")) for s in systems]]
                         for f in fams]), ""]
    if "budget" in files:
        out += [f"![review budget]({files['budget']})", ""]
    out += ["### Calibration", "", _calibration_table(results, systems), ""]
    if "reliability" in files:
        out += [f"![reliability diagram]({files['reliability']})", ""]
    return out


def _routing_table(results: dict[str, Any], systems: list[str]) -> str:
    def row(label: str, get: Any) -> list[str]:
        return [label] + [get(results[s]["routing"]) for s in systems]

    rows = [
        row("rows", lambda r: str(r["rows"])),
        row("routes allow / review / urgent_review",
            lambda r: " / ".join(str(r["routes"][k]) for k in ("allow", "review", "urgent_review"))),
        row("share routed to review", lambda r: _ci(r, "routed_share")),
        row("must review: positives / known", lambda r: f"{r['must_review_positives']} / {r['must_review_known']}"),
        row("must-review recall", lambda r: _ci(r, "must_review_recall")),
        row("routed that must be reviewed (precision)", lambda r: _ci(r, "routed_precision")),
        row("urgent: positives / known", lambda r: f"{r['urgent_positives']} / {r['urgent_known']}"),
        row("urgent_review precision", lambda r: _ci(r, "urgent_precision")),
        row("urgent_review recall", lambda r: _ci(r, "urgent_recall")),
    ]
    targets = next(iter(results.values()))["routing"].get("share_at_recall", {})
    rows += [row(f"share to review for must-review recall {t}", lambda r, t=t: fmt(r["share_at_recall"].get(t)))
             for t in targets]
    return table(["figure", *systems], rows)


def _calibration_table(results: dict[str, Any], systems: list[str]) -> str:
    rows = []
    names = {"ece": "ECE", "mce": "MCE", "brier": "Brier score"}
    for head in ("topic", "sensitivity"):
        for figure in ("ece", "mce", "brier", "count"):
            scored = "rows scored" if head == "topic" else "(row, category) scores"
            label = f"{head} {names.get(figure, scored)}"
            rows.append([label] + [(_ci(results[s]["calibration"][head], figure) if figure != "count"
                                    else str(results[s]["calibration"][head].get("count", 0))) for s in systems])
    per_cat = next(iter(results.values()))["calibration"]["sensitivity"].get("per_category", {})
    for c in per_cat:
        rows.append([f"sensitivity ECE, {c}"] + [fmt(results[s]["calibration"]["sensitivity"]["per_category"]
                                                     .get(c, {}).get("ece")) for s in systems])
    return table(["figure", *systems], rows)
