"""Deduplicate the manifest's rows and assign each to train/validation/test once, by a fixed seed.

    python training/make_splits.py training/configs/default.yaml           # assign new rows only
    python training/make_splits.py training/configs/default.yaml --fresh   # redo the whole split

The split is committed (``data/splits.json``). By default rows it already knows stay where they are and
only new rows are deduplicated and assigned, so earlier held-out figures stay comparable. Run this only on
purpose (new data), never between training and evaluation.
"""

import argparse
import json
from pathlib import Path

from modcls.training.config import TrainingConfig, verify_manifest
from modcls.training.data import corpus_stats, extend_splits, load_examples, make_splits


def main(config_path: Path, fresh: bool) -> None:
    config = TrainingConfig.from_file(config_path)
    verify_manifest(config)
    rows = load_examples(config)
    out = config.resolve(config.splits)
    if fresh or not out.is_file():
        splits = make_splits(rows, seed=config.seed)
    else:
        splits = extend_splits(rows, json.loads(out.read_text(encoding="utf-8")), seed=config.seed)
    out.write_text(json.dumps(splits, indent=1, ensure_ascii=False) + "\n", encoding="utf-8")
    written = {}
    for source in ("modcls-authored", "modcls-authored-r2", "modcls-articles"):
        group = [e for e in rows if e.source == source]
        if group:
            written[source] = corpus_stats(group)
    print(json.dumps({"split_counts": splits["counts"], "dropped_near_duplicates": len(splits["dropped"]),
                      "written_corpus": written}, indent=1, ensure_ascii=False))


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("config", type=Path)
    parser.add_argument("--fresh", action="store_true", help="redo the whole split instead of extending it")
    args = parser.parse_args()
    main(args.config, args.fresh)
