"""``modcls train --config FILE``: train (or retrain) a model as a config says."""

from __future__ import annotations

import argparse
import dataclasses
import json
import sys
from pathlib import Path

from .common import require_extra

TOLERANCE = 0.02  # modcls.training.compare.TOLERANCE, repeated so that --help imports no torch


def register(sub: argparse._SubParsersAction) -> argparse.ArgumentParser:
    parser = sub.add_parser(
        "train",
        help="train or retrain a model from a JSON/YAML config",
        description="Train a model as the config says. Output: --output-dir if given; with --init-from, a new "
        "folder runs/<starting model's version>-<timestamp>; else the config's output_dir, except the installed "
        "default model, which only --overwrite replaces (a new runs/ folder otherwise). Files are moved into "
        "place when the run ends well. With --init-from, the new model is compared with the starting one on the "
        "same held-out rows (F1 per category, printed as a table).",
    )
    parser.add_argument("--config", required=True, metavar="FILE", help="training config (JSON or YAML)")
    parser.add_argument("--init-from", metavar="MODEL_DIR", help="continue from this model instead of the base")
    parser.add_argument("--add-data", action="append", default=[], metavar="FILE",
                        help="extra labelled JSONL rows for training (repeatable), e.g. a review export")
    parser.add_argument("--output-dir", metavar="DIR",
                        help="where to write the model (default: see above; never the installed model unasked)")
    parser.add_argument("--overwrite", action="store_true",
                        help="write into the config's output_dir even if it is the installed default model")
    parser.add_argument("--epochs", type=int, metavar="N", help="override the config's epochs")
    parser.add_argument("--max-steps", type=int, metavar="N", help="stop after N optimizer steps in all")
    parser.add_argument("--limit-rows", type=int, metavar="N",
                        help="at most N rows of each split (a fixed sample; --add-data rows all kept)")
    parser.add_argument("--require-no-regression", action="store_true",
                        help="with --init-from: exit 1, leaving the output folder as it was, when a category's F1 "
                             "falls by more than --tolerance")
    parser.add_argument("--tolerance", type=float, default=TOLERANCE, metavar="X",
                        help=f"largest accepted fall in a category's F1 (default {TOLERANCE})")
    return parser


def run(args: argparse.Namespace) -> int:
    from . import CommandError

    for name in ("epochs", "max_steps", "limit_rows"):
        value = getattr(args, name)
        if value is not None and value < 1:
            raise CommandError(f"--{name.replace('_', '-')} must be at least 1")
    if args.tolerance < 0:
        raise CommandError("--tolerance must be at least 0")
    if args.require_no_regression and not args.init_from:
        raise CommandError("--require-no-regression compares with a starting model: give --init-from MODEL_DIR")
    if args.init_from and not (Path(args.init_from) / "config.json").is_file():
        raise CommandError(f"--init-from {args.init_from}: not a model folder (no config.json)")
    for path in args.add_data:
        if not Path(path).is_file():
            raise CommandError(f"--add-data {path}: file not found")
    require_extra("train", "sklearn", "evaluate", "datasets")
    from ..training.config import TrainingConfig
    from ..training.output import holds_installed_model, installed_model_dir, new_run_dir, run_name
    from ..training.run import RegressionError, train

    config = TrainingConfig.from_file(args.config)
    overrides = {k: getattr(args, k) for k in ("epochs", "max_steps", "limit_rows") if getattr(args, k) is not None}
    config = dataclasses.replace(config, **overrides)
    output_dir = args.output_dir
    if output_dir is None and not args.overwrite and (
            args.init_from or holds_installed_model(config.resolve(config.output_dir))):
        output_dir = new_run_dir("runs", run_name(args.init_from, config.model_version))
        if not args.init_from:
            print(f"modcls: the config's output_dir is the installed default model ({installed_model_dir()}); "
                  f"writing to {output_dir} instead (--overwrite replaces the installed model)", file=sys.stderr)
    tolerance = args.tolerance if args.require_no_regression else None
    try:
        metrics = train(config, init_from=args.init_from, add_data=args.add_data, output_dir=output_dir,
                        overwrite=args.overwrite, tolerance=tolerance)
    except RegressionError as err:
        _notes(err.metrics)
        raise
    _notes(metrics)
    out = Path(output_dir) if output_dir else config.resolve(config.output_dir)
    print(json.dumps({"output_dir": str(out), "model": _summary(metrics["model"]),
                      **({"before": _summary(metrics["before"])} if "before" in metrics else {})}, indent=2))
    if "comparison" in metrics:
        from ..training.compare import format_table

        print(format_table(metrics["comparison"], metrics["comparison_split"], tolerance))
    print(f"modcls: model written to {out}", file=sys.stderr)
    return 0


def _notes(metrics: dict) -> None:
    for note in metrics.get("calibration", {}).get("notes", []):
        print(f"modcls: calibration: {note}", file=sys.stderr)


def _summary(figures: dict) -> dict:
    return {split: {source: {"topic_macro_f1": f["topic"].get("macro_f1"), "mean_f1": _mean_f1(f["sensitivity"])}
                    for source, f in sources.items()}
            for split, sources in figures.items()}


def _mean_f1(categories: dict) -> float | None:
    values = [c["f1"] for c in categories.values() if c["positives"]]
    return round(sum(values) / len(values), 4) if values else None
