#!/usr/bin/env python3
"""Would merging concurrent requests into one model call be faster? Measure it on this CPU.

    python benchmarks/batching.py --model modcls/default_model

Scores the same paragraphs in groups of 1 (one request at a time) and of 8 or 32 (what merging
concurrent one-paragraph requests would give), with 1 and 2 torch threads, in interleaved rounds, and
prints paragraphs per second for each. The cache is off so that every paragraph is scored.
"""

from __future__ import annotations

import argparse
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))

from load import load_paragraphs  # noqa: E402


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--model", help="model folder (default: the shipped default model)")
    parser.add_argument("--groups", default="1,8,32", help="paragraphs per model call (default 1,8,32)")
    parser.add_argument("--threads", default="1,2", help="torch thread counts (default 1,2)")
    parser.add_argument("--paragraphs", type=int, default=48, help="paragraphs per measurement (default 48)")
    parser.add_argument("--rounds", type=int, default=3)
    args = parser.parse_args(argv)

    import torch

    from modcls.moderator import Moderator

    texts = load_paragraphs(args.paragraphs * (args.rounds + 1))
    moderator = Moderator.from_pretrained(args.model, cache_size=0)
    moderator.classify(texts[:4])
    figures: dict[tuple[int, int], list[float]] = {}
    for round_ in range(args.rounds):
        for threads in (int(t) for t in args.threads.split(",")):
            torch.set_num_threads(threads)
            for group in (int(g) for g in args.groups.split(",")):
                start = (round_ * args.paragraphs) % max(len(texts) - args.paragraphs, 1)
                chunk = texts[start : start + args.paragraphs]
                began = time.perf_counter()
                for k in range(0, len(chunk), group):
                    moderator.classify(chunk[k : k + group], batch_size=32)
                rate = len(chunk) / (time.perf_counter() - began)
                figures.setdefault((threads, group), []).append(rate)
                print(f"round {round_} threads {threads} group {group:>2}: {rate:6.1f} paragraphs/s", flush=True)
    print("\nthreads group  paragraphs/s (each round)")
    for (threads, group), rates in sorted(figures.items()):
        print(f"{threads:>7} {group:>5}  " + "  ".join(f"{r:.1f}" for r in rates))
    return 0


if __name__ == "__main__":
    sys.exit(main())
