"""``modcls moderate FILE|-``: moderate one article and print a table or JSON."""

from __future__ import annotations

import argparse
import json

from .common import add_model_options, load_moderator, read_text_arg


def register(sub: argparse._SubParsersAction) -> argparse.ArgumentParser:
    parser = sub.add_parser("moderate", help="moderate one article (a file, or - for stdin)")
    parser.add_argument("file", metavar="FILE|-", help="UTF-8 text of the article")
    parser.add_argument("--json", action="store_true", help="print one JSON object instead of a table")
    add_model_options(parser)
    return parser


def run(args: argparse.Namespace) -> int:
    text = read_text_arg(args.file)
    from ..moderator import check_text

    check_text(text, "article")
    result = load_moderator(args).moderate(text)
    if args.json:
        print(json.dumps(result.to_dict(), ensure_ascii=False, indent=2))
    else:
        print(format_table(result))
    return 0


def format_table(result) -> str:  # noqa: ANN001 - ArticleResult, imported lazily
    """A readable summary: the article's route, then one line per paragraph."""
    lines = [
        f"article route: {result.route} (priority {result.priority}); evidence: "
        + (", ".join(f"#{i}" for i in result.evidence) or "none"),
        "",
        f"{'#':>3}  {'route':<13} {'priority':<8} {'topic':<17} {'flags':<28} text",
    ]
    for p in result.paragraphs:
        flags = ",".join(f"{f}:{p.sensitivity[f]:.2f}" for f in p.flags) or "-"
        text = p.text if len(p.text) <= 60 else p.text[:59] + "…"
        lines.append(f"{p.index:>3}  {p.route:<13} {p.priority:<8} {p.topic:<17} {flags:<28} {text}")
        lines += evidence_lines(p, indent=" " * 5)
    return "\n".join(lines)


def evidence_lines(paragraph, indent: str = "", width: int = 90) -> list[str]:  # noqa: ANN001 - ParagraphResult
    """One line per label: the sentence that carries it most (shortened) and its score alone."""
    lines, seen = [], set()
    for ev in paragraph.evidence:
        if ev.label in seen:
            continue
        seen.add(ev.label)
        sentence = ev.text if len(ev.text) <= width else ev.text[: width - 1] + "…"
        lines.append(f"{indent}> {ev.label} {ev.score:.2f}: {sentence}")
    return lines
