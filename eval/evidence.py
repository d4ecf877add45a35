"""Evidence sentences: how often the top evidence sentence is the one that carries the flag, and what it costs.

    python eval/evidence.py --precision fast                       # the shipped default model
    python eval/evidence.py --model DIR --precision fast --bench 1000 --json out.json

``eval/evidence/paragraphs.jsonl`` holds project-written paragraphs, each a list of sentences, with the
sentences that carry each label (``carry``): one or two categories, or the crime_justice topic, carried by
known sentences among neutral ones of the same story. For each labelled category the script reports:

* **flagged**: of the labels the model flags, the share whose top evidence sentence (``Moderator.classify``)
  carries it;
* **all labels**: the same for every labelled category, flagged or not (the sentence with the highest
  score alone), and for **occlusion** (the sentence whose removal lowers the paragraph's score most);
* **chance**: the share a sentence drawn at random would get.

Cost, on the set and on the throughput benchmark set (``benchmarks/throughput.py``: real French paragraphs
read from ``../shared/data``, few of them flagged): the extra model input in tokens, and wall-clock and CPU
seconds to classify with and without evidence (answer cache off).
"""

from __future__ import annotations

import argparse
import json
import platform
import subprocess
import sys
import time
from collections import defaultdict
from pathlib import Path
from typing import Any

REPO = Path(__file__).resolve().parents[1]
SET = REPO / "eval" / "evidence" / "paragraphs.jsonl"
sys.path.insert(0, str(REPO))


def load_set(path: Path = SET) -> list[dict[str, Any]]:
    """The labelled paragraphs, each with its ``text`` and sentence spans checked against the splitter."""
    from modcls.evidence import sentence_spans

    rows = []
    for line in path.read_text(encoding="utf-8").splitlines():
        if not line.strip():
            continue
        row = json.loads(line)
        row["text"] = " ".join(row["sentences"])
        spans = sentence_spans(row["text"])
        got = [row["text"][s:e] for s, e in spans]
        if got != row["sentences"]:
            raise SystemExit(f"{row['id']}: the sentence splitter gives {got}")
        row["spans"] = spans
        rows.append(row)
    return rows


def occlusion_top(moderator: Any, text: str, spans: list[tuple[int, int]], label: str) -> int:
    """The sentence whose removal lowers ``label``'s paragraph score most."""
    predictor = moderator.predictor
    rests = [" ".join(text[s:e] for k, (s, e) in enumerate(spans) if k != j) for j in range(len(spans))]
    scores = predictor.predict([text, *rests])
    full, rest = scores[0], scores[1:]
    value = _score_fn(moderator, label)
    return max(range(len(spans)), key=lambda j: value(full) - value(rest[j]))


def alone_top(moderator: Any, text: str, spans: list[tuple[int, int]], label: str) -> int:
    scores = moderator.predictor.predict([text[s:e] for s, e in spans])
    value = _score_fn(moderator, label)
    return max(range(len(spans)), key=lambda j: value(scores[j]))


def _score_fn(moderator: Any, label: str) -> Any:
    if label in moderator.categories:
        k = moderator.categories.index(label)
        return lambda s: float(s.sensitivity[k])
    k = moderator.topics.index(label)
    return lambda s: float(s.topic[k])


def evaluate(moderator: Any, rows: list[dict[str, Any]]) -> dict[str, Any]:
    counts: dict[str, dict[str, list[int]]] = defaultdict(lambda: defaultdict(lambda: [0, 0]))
    chance: dict[str, list[float]] = defaultdict(list)
    misses = []
    results = moderator.classify([r["text"] for r in rows])
    for row, result in zip(rows, results):
        for label, carriers in row["carry"].items():
            group = "crime_justice topic" if label not in moderator.categories else label
            chance[group].append(len(carriers) / len(row["spans"]))
            top = {}
            top["all labels: score alone"] = alone_top(moderator, row["text"], row["spans"], label)
            top["all labels: occlusion"] = occlusion_top(moderator, row["text"], row["spans"], label)
            routed = label in result.flags or any(e.label == label for e in result.evidence)
            if routed:
                first = next(e for e in result.evidence if e.label == label)
                top["flagged: evidence"] = row["spans"].index((first.start, first.end))
                if top["flagged: evidence"] not in carriers:
                    misses.append({"id": row["id"], "label": label, "chose": first.text,
                                   "carriers": [row["sentences"][k] for k in carriers]})
            for method, j in top.items():
                counts[method][group][0] += int(j in carriers)
                counts[method][group][1] += 1
    table: dict[str, Any] = {}
    for method, groups in counts.items():
        right = sum(v[0] for v in groups.values())
        total = sum(v[1] for v in groups.values())
        table[method] = {"right": right, "total": total, "accuracy": round(right / total, 4) if total else None,
                         "by_label": {g: {"right": v[0], "total": v[1]} for g, v in sorted(groups.items())}}
    every = [c for v in chance.values() for c in v]
    table["chance"] = {"accuracy": round(sum(every) / len(every), 4)}
    return {"methods": table, "misses": misses}


def timing(moderator: Any, texts: list[str], rounds: int = 2) -> dict[str, Any]:
    """Cost of evidence on ``texts``: model input tokens, and wall-clock and CPU seconds to classify them
    without and with evidence (best of ``rounds``, alternating, answer cache off). CPU seconds are the
    process's own, which other work on a shared machine disturbs less than wall-clock time.
    """
    from modcls.evidence import sentence_spans

    predictor = moderator.predictor
    predictor.cache_size = 0
    predictor._cache.clear()
    best: dict[str, float] = {}
    results: list[Any] = []
    for _ in range(rounds):
        for evidence in (False, True):
            key = "with_evidence" if evidence else "without_evidence"
            wall, cpu = time.perf_counter(), time.process_time()
            results = moderator.classify(texts, batch_size=16, evidence=evidence)
            wall, cpu = time.perf_counter() - wall, time.process_time() - cpu
            best[f"{key}_s"] = round(min(best.get(f"{key}_s", 1e9), wall), 3)
            best[f"{key}_cpu_s"] = round(min(best.get(f"{key}_cpu_s", 1e9), cpu), 3)
    explained = [r for r in results if r.evidence]
    sentences = [r.text[a:b] for r in explained for a, b in sentence_spans(r.text) if len(sentence_spans(r.text)) > 1]
    tokens = sum(predictor.count_tokens(t) for t in texts)
    extra = sum(predictor.count_tokens(t) for t in sentences)
    return {"paragraphs": len(texts), "paragraphs_with_evidence": len(explained), "sentences_scored": len(sentences),
            "tokens": tokens, "extra_tokens": extra, "extra_token_share": round(extra / tokens, 4), **best,
            "overhead_wall": round(best["with_evidence_s"] / best["without_evidence_s"] - 1, 4),
            "overhead_cpu": round(best["with_evidence_cpu_s"] / best["without_evidence_cpu_s"] - 1, 4)}


def _sentences(text: str) -> int:
    from modcls.evidence import sentence_spans

    return len(sentence_spans(text))


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--model", help="model folder (default: the shipped default model)")
    parser.add_argument("--precision", default="fast")
    parser.add_argument("--threads", type=int, default=2)
    parser.add_argument("--bench", type=int, default=1000, help="paragraphs of the throughput set (0: skip)")
    parser.add_argument("--data", type=Path, default=REPO.parent / "shared" / "data")
    parser.add_argument("--json", type=Path, help="also write the figures here")
    parser.add_argument("--rounds", type=int, default=2, help="timing rounds, best kept (default 2)")
    args = parser.parse_args(argv)
    import torch

    from modcls.moderator import Moderator

    torch.set_num_threads(args.threads)
    moderator = Moderator.from_pretrained(args.model, precision=args.precision)
    rows = load_set()
    report: dict[str, Any] = {"model": moderator.name, "precision": args.precision, "threads": args.threads,
                              "cpu": _cpu(), "set": {"paragraphs": len(rows),
                                                     "labels": sum(len(r["carry"]) for r in rows)}}
    report |= evaluate(moderator, rows)
    report["cost_on_set"] = timing(moderator, [r["text"] for r in rows], args.rounds)
    if args.bench and (args.data / "piaf_v1_1.jsonl").is_file():
        from tokenizers import Tokenizer

        sys.path.insert(0, str(REPO / "benchmarks"))
        from throughput import _tokenizer_folder, build_paragraphs

        folder = args.model or str(REPO / "modcls" / "default_model")
        tokenizer = Tokenizer.from_file(str(Path(_tokenizer_folder(folder)) / "tokenizer.json"))
        texts = build_paragraphs(args.data, args.bench, 0, tokenizer)
        report["cost_on_benchmark_set"] = timing(moderator, texts, args.rounds)
    print(json.dumps({k: v for k, v in report.items() if k != "misses"}, indent=2, ensure_ascii=False))
    for miss in report["misses"]:
        print(f"miss {miss['id']} {miss['label']}: chose «{miss['chose']}»", file=sys.stderr)
    if args.json:
        args.json.write_text(json.dumps(report, indent=2, ensure_ascii=False) + "\n", encoding="utf-8")


def _cpu() -> str:
    try:
        out = subprocess.run(["lscpu"], capture_output=True, text=True, check=False).stdout
        return next(line.split(":", 1)[1].strip() for line in out.splitlines() if line.startswith("Model name"))
    except (OSError, StopIteration):
        return platform.processor()


if __name__ == "__main__":
    main()
