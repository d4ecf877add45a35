"""``modcls classify --input IN --output OUT``: stream a JSONL or plain-text file through the model."""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

from . import ray_engine
from .common import add_model_options, load_moderator


def register(sub: argparse._SubParsersAction) -> argparse.ArgumentParser:
    parser = sub.add_parser(
        "classify",
        help="label every paragraph of a JSONL or text file",
        description="IN is JSONL (each row needs 'text'; other fields are kept) or plain text "
        "(one paragraph per line). OUT is JSONL with topic, topic_scores, sensitivity, flags, route, "
        "priority and reasons added (input fields with those names are replaced).",
    )
    parser.add_argument("--input", required=True, metavar="IN", help="input file, or - for stdin")
    parser.add_argument("--output", required=True, metavar="OUT", help="output JSONL file, or - for stdout")
    parser.add_argument("--format", choices=("auto", "jsonl", "text"), default="auto", help="input format")
    parser.add_argument("--batch-size", type=int, default=32, metavar="N", help="paragraphs per model batch")
    parser.add_argument("--skip-invalid", action="store_true", help="report bad rows and go on")
    parser.add_argument("--no-progress", action="store_true", help="no progress bar on stderr")
    add_model_options(parser)
    ray_engine.add_options(parser)
    return parser


def run(args: argparse.Namespace) -> int:
    from tqdm import tqdm

    from ..batch_io import RowError, classify_stream, detect_format, open_lines, read_rows

    if args.engine == "ray":
        return ray_engine.run(args)
    from . import CommandError

    if args.batch_size < 1:
        raise CommandError("--batch-size must be at least 1")
    if args.input != "-" and not Path(args.input).is_file():
        raise CommandError(f"input file not found: {args.input} (give a JSONL or text file, or - for stdin)")
    moderator = load_moderator(args)
    lines, first = open_lines(args.input)
    fmt = detect_format(args.input, first) if args.format == "auto" else args.format
    total = _count_lines(args.input)
    out = sys.stdout if args.output == "-" else open(args.output, "w", encoding="utf-8")  # noqa: SIM115
    bar = tqdm(total=total, unit="row", desc="classify", disable=args.no_progress, file=sys.stderr)

    def skipped(err: RowError) -> None:
        bar.write(f"modcls: skipped {err}", file=sys.stderr)
        bar.update(1)

    try:
        stats = classify_stream(
            moderator,
            read_rows(lines, fmt, args.input),
            out,
            batch_size=args.batch_size,
            skip_invalid=args.skip_invalid,
            on_skip=skipped,
            on_progress=bar.update,
        )
    finally:
        bar.close()
        if out is not sys.stdout:
            out.close()
    print(f"modcls: {stats.rows_written} rows written, {stats.rows_skipped} skipped", file=sys.stderr)
    return 0


def _count_lines(path: str) -> int | None:
    if path == "-":
        return None
    with open(path, "rb") as f:
        return sum(1 for line in f if line.strip())
