"""Train a modcls model: ``python training/train.py --config training/configs/default.yaml``.

The same as ``modcls train``; the logic lives in :mod:`modcls.training`.
"""

import sys

from modcls.cli import main

if __name__ == "__main__":
    sys.exit(main(["train", *sys.argv[1:]]))
