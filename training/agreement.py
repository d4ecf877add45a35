"""Agreement between the written corpus's labels and a second, blind labelling pass over a sample.

    python training/agreement.py data/quality/round2_second_pass.jsonl training/configs/default.yaml

The second-pass file holds ``{"id", "topic", "sensitivity": {...7...}}`` rows labelled by a different
writer who saw only the text. Prints per-category Cohen's kappa, raw agreement and counts, topic
agreement and kappa, and the rows where the two passes disagree (for the guideline's review).
"""

import argparse
import json
from pathlib import Path

from sklearn.metrics import cohen_kappa_score

from modcls.labels import CATEGORIES
from modcls.training.config import TrainingConfig
from modcls.training.data import load_examples, read_jsonl


def agreement(first: dict, second: list[dict]) -> dict:
    rows = [(first[r["id"]], r) for r in second if r["id"] in first]
    out = {"rows": len(rows), "categories": {}, "disagreements": []}
    for c in CATEGORIES:
        a = [e.sensitivity.get(c, 0) for e, _ in rows]
        b = [int(r["sensitivity"].get(c, 0)) for _, r in rows]
        same = sum(x == y for x, y in zip(a, b))
        kappa = cohen_kappa_score(a, b) if len(set(a) | set(b)) > 1 else 1.0
        out["categories"][c] = {"kappa": round(float(kappa), 3), "agreement": round(same / max(len(rows), 1), 3),
                                "positives_first": sum(a), "positives_second": sum(b)}
    ta, tb = [e.topic for e, _ in rows], [r.get("topic") for _, r in rows]
    out["topic"] = {"agreement": round(sum(x == y for x, y in zip(ta, tb)) / max(len(rows), 1), 3),
                    "kappa": round(float(cohen_kappa_score(ta, tb)), 3)}
    for e, r in rows:
        diff = [c for c in CATEGORIES if e.sensitivity.get(c, 0) != int(r["sensitivity"].get(c, 0))]
        if diff or e.topic != r.get("topic"):
            out["disagreements"].append({"id": e.id, "categories": diff,
                                         "topic": [e.topic, r.get("topic")] if e.topic != r.get("topic") else None})
    return out


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("second_pass", type=Path)
    parser.add_argument("config", type=Path)
    args = parser.parse_args()
    examples = {e.id: e for e in load_examples(TrainingConfig.from_file(args.config))}
    print(json.dumps(agreement(examples, read_jsonl(args.second_pass)), indent=1, ensure_ascii=False))
