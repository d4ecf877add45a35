"""``modcls evaluate --data FILE --out DIR``: per-class, per-source figures with intervals, plots, report."""

from __future__ import annotations

import argparse
import sys

from .common import add_model_options, require_extra


def register(sub: argparse._SubParsersAction) -> argparse.ArgumentParser:
    parser = sub.add_parser(
        "evaluate",
        help="evaluate a model on labelled data: report.json, report.md and PNGs",
        description="Evaluate on labelled JSONL rows in the data schema (topic null and absent categories are "
        "unknown and skipped) and/or on a held-out split of a training manifest. Figures per source, with "
        "bootstrap intervals: topic, sensitivity, routing to review, calibration.",
    )
    parser.add_argument("--data", action="append", default=[], metavar="FILE",
                        help="labelled JSONL file (repeatable)")
    parser.add_argument("--split", choices=("train", "validation", "test"),
                        help="evaluate on this split of --config's manifest and split file")
    parser.add_argument("--config", metavar="FILE", help="training config whose manifest and split --split reads")
    parser.add_argument("--out", required=True, metavar="REPORT_DIR", help="folder for report.json, report.md, PNGs")
    parser.add_argument("--baseline", action="store_true",
                        help="also evaluate the TF-IDF baseline saved with the model, side by side")
    parser.add_argument("--bootstrap", type=int, default=1000, metavar="N", help="bootstrap resamples (default 1000)")
    parser.add_argument("--seed", type=int, default=0, help="bootstrap seed (default 0)")
    parser.add_argument("--batch-size", type=int, default=32, metavar="N", help="paragraphs per model batch")
    parser.add_argument("--no-plots", action="store_true", help="write no PNG")
    parser.add_argument("--no-progress", action="store_true", help="no progress bar on stderr")
    add_model_options(parser)
    return parser


def run(args: argparse.Namespace) -> int:
    from . import CommandError

    if args.batch_size < 1 or args.bootstrap < 0:
        raise CommandError("--batch-size must be at least 1 and --bootstrap at least 0")
    if bool(args.split) != bool(args.config):
        raise CommandError("--split and --config go together")
    if not args.data and not args.split:
        raise CommandError("give --data FILE and/or --split SPLIT --config FILE")
    require_extra("train", "sklearn", "evaluate", "datasets", "matplotlib")
    from ..evaluation.run import evaluate

    report = evaluate(args.out, model_dir=args.model, data=args.data, split=args.split, config=args.config,
                      baseline=args.baseline, policy=args.policy, precision=args.precision,
                      batch_size=args.batch_size, progress=not args.no_progress, bootstrap=args.bootstrap,
                      seed=args.seed, plots=not args.no_plots)
    group = report["groups"]["all"]["results"]["model"]
    print(f"modcls: {report['data']['rows']} rows, {len(report['groups'])} groups; all rows: topic accuracy "
          f"{_f(group['topic'].get('accuracy'))}, must-review recall {_f(group['routing'].get('must_review_recall'))}"
          f"; report in {args.out}", file=sys.stderr)
    return 0


def _f(value: float | None) -> str:
    return "n/a" if value is None else f"{value:.3f}"
