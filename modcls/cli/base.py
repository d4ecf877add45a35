"""``modcls base``: restore (or check) the base encoder and print where it is."""

from __future__ import annotations

import argparse
import json
import time


def register(sub: argparse._SubParsersAction) -> argparse.ArgumentParser:
    parser = sub.add_parser("base", help="restore or check the multilingual-e5-small base encoder")
    parser.add_argument("--force", action="store_true", help="restore again even if present")
    parser.add_argument("--json", action="store_true", help="print a JSON object")
    return parser


def run(args: argparse.Namespace) -> int:
    from ..base_encoder import base_fingerprint, restore_base

    started = time.perf_counter()
    path = restore_base(force=args.force)
    seconds = round(time.perf_counter() - started, 2)
    info = {"path": str(path), "fingerprint": base_fingerprint(path), "seconds": seconds}
    print(json.dumps(info) if args.json else path)
    return 0
