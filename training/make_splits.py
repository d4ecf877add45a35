"""Deduplicate the manifest's rows and assign each to train/validation/test once, by a fixed seed.

    python training/make_splits.py training/configs/default.yaml   # writes data/splits.json

The split is committed: run this again only on purpose (new data), never between training and evaluation.
"""

import json
import sys
from pathlib import Path

from modcls.training.config import TrainingConfig, verify_manifest
from modcls.training.data import corpus_stats, load_examples, make_splits


def main(config_path: Path) -> None:
    config = TrainingConfig.from_file(config_path)
    verify_manifest(config)
    rows = load_examples(config)
    splits = make_splits(rows, seed=config.seed)
    out = config.resolve(config.splits)
    out.write_text(json.dumps(splits, indent=1, ensure_ascii=False) + "\n", encoding="utf-8")
    authored = [e for e in rows if e.source == "modcls-authored"]
    stats = corpus_stats(authored)
    print(json.dumps({"split_counts": splits["counts"], "dropped_near_duplicates": len(splits["dropped"]),
                      "authored_corpus": stats}, indent=1, ensure_ascii=False))


if __name__ == "__main__":
    main(Path(sys.argv[1]))
