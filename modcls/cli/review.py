"""``modcls review ...``: work the human-review queue and export decisions as training data."""

from __future__ import annotations

import argparse
import json
import sys


def register(sub: argparse._SubParsersAction) -> argparse.ArgumentParser:
    parser = sub.add_parser(
        "review",
        help="the human-review queue: stats, next, decide, release, show, export",
        description="Works on the queue database directly (the same one `modcls serve` fills): --db takes a "
        "SQLAlchemy URL or a SQLite file; default $MODCLS_REVIEW_DB, else $MODCLS_HOME/review.sqlite.",
    )
    actions = parser.add_subparsers(dest="action", required=True, metavar="ACTION")

    def action(name: str, help_: str) -> argparse.ArgumentParser:
        p = actions.add_parser(name, help=help_)
        p.add_argument("--db", metavar="URL|PATH", help="queue database")
        return p

    action("stats", "counts of waiting, leased and decided items")
    p = action("next", "lease the most urgent waiting item to a reviewer and print it")
    p.add_argument("--reviewer", required=True)
    p.add_argument("--lease-seconds", type=int, metavar="N", help="lease length (default 600)")
    p = action("decide", "record a decision on an item you hold")
    p.add_argument("item", type=int, metavar="ID")
    p.add_argument("decision", choices=("confirm", "correct"))
    p.add_argument("--reviewer", required=True)
    p.add_argument("--topic", help="corrected topic (correct)")
    p.add_argument("--categories", metavar="LIST",
                   help="every category that applies, comma-separated; '' for none (correct)")
    p.add_argument("--note")
    p = action("release", "hand a leased item back to the line")
    p.add_argument("item", type=int, metavar="ID")
    p.add_argument("--reviewer", required=True)
    p = action("show", "print one item")
    p.add_argument("item", type=int, metavar="ID")
    p = action("export", "write decisions as training-data JSONL (for modcls train --add-data)")
    p.add_argument("--since", metavar="DATE", help="decisions at or after this date or ISO datetime (UTC)")
    p.add_argument("--out", required=True, metavar="FILE", help="output JSONL, or - for stdout")
    p.add_argument("--license", default=None, metavar="LICENSE",
                   help="licence of the moderated content, written in each row (default 'unspecified')")
    return parser


def run(args: argparse.Namespace) -> int:
    from .common import require_extra

    require_extra("serve", "sqlalchemy")
    from ..review.export import DEFAULT_LICENSE, export_decisions
    from ..review.store import ReviewQueue

    with ReviewQueue(args.db) as queue:
        if args.action == "stats":
            _print(queue.stats())
        elif args.action == "next":
            item = queue.next(args.reviewer, args.lease_seconds)
            if item is None:
                print("modcls: nothing waits for review", file=sys.stderr)
                return 0
            _print(item.to_dict())
        elif args.action == "decide":
            categories = None
            if args.categories is not None:
                categories = [c.strip() for c in args.categories.split(",") if c.strip()]
            item = queue.decide(args.item, args.reviewer, args.decision, topic=args.topic, categories=categories,
                                note=args.note)
            _print(item.to_dict())
        elif args.action == "release":
            _print(queue.release(args.item, args.reviewer).to_dict())
        elif args.action == "show":
            _print(queue.get(args.item).to_dict())
        elif args.action == "export":
            license_ = args.license or DEFAULT_LICENSE
            if args.out == "-":
                count = export_decisions(queue, sys.stdout, since=args.since, license=license_)
            else:
                with open(args.out, "w", encoding="utf-8") as out:
                    count = export_decisions(queue, out, since=args.since, license=license_)
            print(f"modcls: {count} decisions exported", file=sys.stderr)
    return 0


def _print(data: dict) -> None:
    print(json.dumps(data, ensure_ascii=False, indent=2))
