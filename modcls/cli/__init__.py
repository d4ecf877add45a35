"""The ``modcls`` command line: a thin face over :class:`modcls.Moderator` and the training tools.

Each command lives in its own module with ``register(subparsers)`` and ``run(args) -> int``.
Exit status: 0 success, 1 an error named on stderr (bad input, missing model, bad policy), 2 bad usage.
"""

from __future__ import annotations

import argparse
import importlib
import sys
from collections.abc import Sequence

from .. import __version__

#: Command name -> module (under modcls.cli) holding its ``register`` and ``run``.
COMMANDS = {
    "moderate": "moderate",
    "classify": "classify",
    "base": "base",
    "train": "train",
    "serve": "serve",
    "review": "review",
    "evaluate": "evaluate",
    "card": "card",
    "score-reference": "reference",
}


class CommandError(Exception):
    """An error to report as ``modcls: error: ...`` with exit status 1."""


class _Parser(argparse.ArgumentParser):
    """Usage errors as ``modcls: error: ...`` (exit status 2), with where to read more."""

    def error(self, message: str) -> None:  # type: ignore[override]
        self.print_usage(sys.stderr)
        self.exit(2, f"modcls: error: {message} (see `{self.prog} --help`)\n")


def build_parser() -> argparse.ArgumentParser:
    parser = _Parser(prog="modcls", description="Topic and sensitivity moderation of French news.")
    parser.add_argument("--version", action="version", version=f"modcls {__version__}")
    sub = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")
    for module in COMMANDS.values():
        mod = importlib.import_module(f"{__name__}.{module}")
        command = mod.register(sub)
        command.set_defaults(handler=mod.run)
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    from ..errors import ModclsError

    try:
        return int(args.handler(args) or 0)
    except (CommandError, ModclsError) as err:
        print(f"modcls: error: {err}", file=sys.stderr)
        return 1
    except OSError as err:
        print(f"modcls: error: {_os_message(err)}", file=sys.stderr)
        return 1
    except KeyboardInterrupt:
        print("modcls: interrupted", file=sys.stderr)
        return 130


def _os_message(err: OSError) -> str:
    """``PATH: what went wrong`` rather than Python's ``[Errno N] ...``."""
    if err.strerror and err.filename is not None:
        return f"{err.filename}: {err.strerror[:1].lower()}{err.strerror[1:]}"
    return str(err)


if __name__ == "__main__":
    sys.exit(main())
