"""``modcls score-reference --model DIR --config CONFIG``: record the model's score distribution for drift."""

from __future__ import annotations

import argparse
import sys

from ..inference import PRECISIONS


def register(sub: argparse._SubParsersAction) -> argparse.ArgumentParser:
    parser = sub.add_parser(
        "score-reference",
        help="write score_reference.json (validation score distribution) into a model folder, for drift",
        description="Scores the held-out split of a training config with the model and writes each category's "
        "score distribution (decile bins) into MODEL/score_reference.json. `modcls serve` compares recent traffic "
        "with it (GET /metrics, GET /v1/model).",
    )
    parser.add_argument("--model", metavar="DIR", help="model folder (default: the shipped default model)")
    parser.add_argument("--config", required=True, metavar="FILE", help="training config naming the data and split")
    parser.add_argument("--split", default="validation", help="held-out split to score (default: validation)")
    parser.add_argument("--precision", choices=PRECISIONS, default="fp32", help="inference path (default: fp32)")
    parser.add_argument("--batch-size", type=int, default=32)
    return parser


def run(args: argparse.Namespace) -> int:
    from ..drift import compute_reference, write_reference
    from ..moderator import default_model_dir

    folder = args.model or default_model_dir()
    reference = compute_reference(folder, args.config, split=args.split, precision=args.precision,
                                  batch_size=args.batch_size)
    path = write_reference(folder, reference)
    print(f"modcls: {reference['paragraphs']} {args.split} paragraphs; reference written to {path}", file=sys.stderr)
    return 0
