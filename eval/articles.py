"""Whole test-split articles through ``Moderator.moderate``, headline as context vs every paragraph alone.

    python eval/articles.py --config training/configs/default.yaml [--model DIR] [--precision auto]
        [--split test] [--out eval/reports/articles.json]
"""

import argparse
import json
from pathlib import Path

from modcls.evaluation.articles import moderate_articles, split_articles
from modcls.moderator import Moderator
from modcls.training.config import TrainingConfig


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--config", type=Path, required=True)
    parser.add_argument("--model")
    parser.add_argument("--precision", default="auto")
    parser.add_argument("--split", default="test")
    parser.add_argument("--out", type=Path)
    args = parser.parse_args()
    articles = split_articles(TrainingConfig.from_file(args.config), args.split)
    moderator = Moderator.from_pretrained(args.model, precision=args.precision)
    report = {"model": moderator.name, "engine": moderator.predictor.engine_info, "split": args.split,
              "with_context": moderate_articles(moderator, articles, with_context=True),
              "paragraph_alone": moderate_articles(moderator, articles, with_context=False)}
    text = json.dumps(report, indent=1, ensure_ascii=False)
    if args.out:
        args.out.write_text(text + "\n", encoding="utf-8")
    print(text)


if __name__ == "__main__":
    main()
