"""Options and helpers shared by the commands that load a model."""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

from ..inference import PRECISIONS


def add_model_options(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--model", metavar="DIR", help="model folder (default: the shipped default model)")
    parser.add_argument("--policy", metavar="FILE", help="routing policy override, JSON or YAML")
    parser.add_argument("--precision", choices=PRECISIONS, default="auto",
                        help="inference path: auto (chosen from the CPU's features), fp32 (reference), fast "
                             "(compact engine, bfloat16 where the CPU has it), int8 (compact engine, int8 "
                             "projections), bf16 (default: auto)")


def load_moderator(args: argparse.Namespace):  # noqa: ANN201 - avoids importing torch at parse time
    from ..moderator import Moderator

    return Moderator.from_pretrained(args.model, policy=args.policy, precision=args.precision)


def read_text_arg(path: str) -> str:
    """Read a whole UTF-8 file, or stdin for ``-``; invalid UTF-8 is an :class:`InputError`."""
    from ..errors import InputError

    try:
        data = sys.stdin.buffer.read() if path == "-" else Path(path).read_bytes()
    except FileNotFoundError:
        raise InputError(f"{path}: no such file; give a UTF-8 text file, or - to read stdin") from None
    except IsADirectoryError:
        raise InputError(f"{path} is a folder; give a UTF-8 text file, or - to read stdin") from None
    try:
        return data.decode("utf-8")
    except UnicodeDecodeError as err:
        raise InputError(f"{path}: invalid UTF-8 at byte {err.start}") from None


def require_extra(extra: str, *modules: str) -> None:
    """Fail with what to install when a command's optional dependencies (``modcls[extra]``) are missing."""
    import importlib.util

    from ..errors import ModclsError

    missing = [m for m in modules if importlib.util.find_spec(m) is None]
    if missing:
        raise ModclsError(f"this command needs {', '.join(missing)}, which are not installed: "
                          f"pip install 'modcls[{extra}]' (in a checkout: python3 dev.py test installs them)")
