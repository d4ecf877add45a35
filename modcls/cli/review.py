"""``modcls review ...``: work the human-review queue and export decisions as training data."""

from __future__ import annotations

import argparse
import json
import sys
import textwrap

from .common import add_model_options


def register(sub: argparse._SubParsersAction) -> argparse.ArgumentParser:
    parser = sub.add_parser(
        "review",
        help="the human-review queue: stats, report, next, decide, release, show, export, compare",
        description="Works on the queue database directly (the same one `modcls serve` fills): --db takes a "
        "SQLAlchemy URL or a SQLite file; default $MODCLS_REVIEW_DB, else $MODCLS_HOME/review.sqlite.",
    )
    actions = parser.add_subparsers(dest="action", required=True, metavar="ACTION")

    def action(name: str, help_: str) -> argparse.ArgumentParser:
        p = actions.add_parser(name, help=help_)
        p.add_argument("--db", metavar="URL|PATH", help="queue database")
        return p

    action("stats", "counts of waiting, leased and decided items")
    p = action("report", "stats, decisions per day and by reviewer, reviewers' agreement with the model")
    p.add_argument("--days", type=int, default=14, metavar="N", help="days of decisions per day (default 14)")
    p = action("next", "lease the most urgent waiting item to a reviewer and print it")
    p.add_argument("--reviewer", required=True)
    p.add_argument("--lease-seconds", type=int, metavar="N", help="lease length (default 600)")
    p.add_argument("--review-order", choices=("severity", "uncertainty"), default="severity",
                   help="within a priority level: oldest first (severity, default), or the item whose scores "
                   "sit closest to their thresholds first (uncertainty)")
    p.add_argument("--json", action="store_true", help="print the whole item as JSON")
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
    p.add_argument("--json", action="store_true", help="print the whole item as JSON")
    p = action("export", "write decisions as training-data JSONL (for modcls train --add-data)")
    p.add_argument("--since", metavar="DATE", help="decisions at or after this date or ISO datetime (UTC)")
    p.add_argument("--out", required=True, metavar="FILE", help="output JSONL, or - for stdout")
    p.add_argument("--license", default=None, metavar="LICENSE",
                   help="licence of the moderated content, written in each row (default 'unspecified')")
    p = actions.add_parser("compare", help="how a (retrained) model's answers on exported review rows moved "
                           "from those they were reviewed on")
    p.add_argument("export", metavar="FILE", help="rows written by `modcls review export`")
    add_model_options(p)
    return parser


def run(args: argparse.Namespace) -> int:
    from .common import require_extra

    require_extra("serve", "sqlalchemy")
    from ..review.export import DEFAULT_LICENSE, export_decisions
    from ..review.store import ReviewQueue

    if args.action == "compare":
        return _compare(args)
    with ReviewQueue(args.db) as queue:
        if args.action == "stats":
            _print(queue.stats())
        elif args.action == "report":
            _print(queue.report(args.days))
        elif args.action == "next":
            item = queue.next(args.reviewer, args.lease_seconds, order=args.review_order)
            if item is None:
                print("modcls: nothing waits for review", file=sys.stderr)
                return 0
            _print(item.to_dict()) if args.json else print(format_item(item.to_dict()))
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
            item = queue.get(args.item).to_dict()
            _print(item) if args.json else print(format_item(item))
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


def format_item(item: dict, width: int = 100) -> str:
    """A review item for a reader: what, why (flags with the sentence that carries each), the paragraph."""
    top = sorted(item["topic_scores"].items(), key=lambda kv: -kv[1])[:3]
    lines = [
        f"item {item['id']}  {item['route']} ({item['priority']})  status {item['status']}"
        + (f", leased to {item['lease_owner']} until {item['lease_expires']}" if item.get("lease_owner") else ""),
        f"article {item['article_id']}  paragraph {item['paragraph_index']}"
        + (f" ({item['paragraph_id']})" if item.get("paragraph_id") else "") + f"  model {item['model_version']}",
        "topic: " + ", ".join(f"{t} {p:.2f}" for t, p in top),
        "flags: " + (", ".join(f"{f} {item['sensitivity'][f]:.2f}" for f in item["flags"]) or "none"),
    ]
    for ev in item.get("evidence") or []:
        sentence = ev["text"] if len(ev["text"]) <= width else ev["text"][: width - 1] + "…"
        lines.append(f"  > {ev['label']} {ev['score']:.2f} (alone): {sentence}")
    headline = (item.get("context") or {}).get("headline")
    if headline:
        lines.append(f"headline: {headline}")
    lines += ["", textwrap.fill(item["text"], width)]
    if item.get("decision"):
        cats = [c for c, v in (item.get("decided_sensitivity") or {}).items() if v]
        lines += ["", f"decided: {item['decision']} by {item['reviewer']} at {item['decided_at']}: topic "
                  f"{item['decided_topic']}, categories {', '.join(cats) or 'none'}"]
    return "\n".join(lines)


def _compare(args: argparse.Namespace) -> int:
    from ..review.movement import movement
    from .common import load_moderator, read_text_arg

    rows = [json.loads(line) for line in read_text_arg(args.export).splitlines() if line.strip()]
    moderator = load_moderator(args)
    results = moderator.classify([r["text"] for r in rows], evidence=False) if rows else []
    _print({"model": moderator.name, **movement(rows, results)})
    return 0
