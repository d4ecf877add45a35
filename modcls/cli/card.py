"""``modcls card --model DIR --report REPORT_DIR``: generate the model card from the training record and a report."""

from __future__ import annotations

import argparse
import sys
from pathlib import Path


def register(sub: argparse._SubParsersAction) -> argparse.ArgumentParser:
    parser = sub.add_parser(
        "card",
        help="write a model card from run.json and an evaluation report",
        description="Generate a Hugging Face-style model card (model_card.md) from the model's config.json and "
        "run.json and the report.json of `modcls evaluate`; PNGs of the report are linked relative to the card.",
    )
    parser.add_argument("--model", metavar="DIR", help="model folder (default: the shipped default model)")
    parser.add_argument("--report", required=True, metavar="REPORT_DIR", help="folder written by `modcls evaluate`")
    parser.add_argument("--out", metavar="FILE", help="card to write (default: model_card.md in the model folder)")
    return parser


def run(args: argparse.Namespace) -> int:
    from ..evaluation.card import write_card

    if args.model is None:
        from ..moderator import DEFAULT_MODEL_DIR

        args.model = DEFAULT_MODEL_DIR
    path = write_card(args.model, args.report, args.out or Path(args.model) / "model_card.md")
    print(f"modcls: model card written to {path}", file=sys.stderr)
    return 0
