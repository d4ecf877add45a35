"""``modcls train --config FILE``: train (or retrain) a model as a config says."""

from __future__ import annotations

import argparse
import json


def register(sub: argparse._SubParsersAction) -> argparse.ArgumentParser:
    parser = sub.add_parser("train", help="train or retrain a model from a JSON/YAML config")
    parser.add_argument("--config", required=True, metavar="FILE", help="training config (JSON or YAML)")
    parser.add_argument("--init-from", metavar="MODEL_DIR", help="continue from this model instead of the base")
    parser.add_argument("--add-data", action="append", default=[], metavar="FILE",
                        help="extra labelled JSONL rows for training (repeatable), e.g. a review export")
    parser.add_argument("--output-dir", metavar="DIR", help="where to write the model (default: the config's)")
    return parser


def run(args: argparse.Namespace) -> int:
    from ..training.config import TrainingConfig
    from ..training.run import train

    config = TrainingConfig.from_file(args.config)
    metrics = train(config, init_from=args.init_from, add_data=args.add_data, output_dir=args.output_dir)
    summary = {split: {source: {"topic_macro_f1": f["topic"].get("macro_f1"),
                                "mean_f1": _mean_f1(f["sensitivity"])}
                       for source, f in sources.items()}
               for split, sources in metrics["model"].items()}
    print(json.dumps({"model": summary, **({"before": _before(metrics)} if "before" in metrics else {})}, indent=2))
    return 0


def _mean_f1(categories: dict) -> float | None:
    values = [c["f1"] for c in categories.values() if c["positives"]]
    return round(sum(values) / len(values), 4) if values else None


def _before(metrics: dict) -> dict:
    return {split: {source: {"topic_macro_f1": f["topic"].get("macro_f1"), "mean_f1": _mean_f1(f["sensitivity"])}
                    for source, f in sources.items()}
            for split, sources in metrics["before"].items()}
