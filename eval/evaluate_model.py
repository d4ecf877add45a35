"""Evaluate a modcls model: ``python eval/evaluate_model.py --data FILE.jsonl --out REPORT_DIR [--baseline]``.

The same as ``modcls evaluate``; the logic lives in :mod:`modcls.evaluation`.
"""

import sys

from modcls.cli import main

if __name__ == "__main__":
    sys.exit(main(["evaluate", *sys.argv[1:]]))
