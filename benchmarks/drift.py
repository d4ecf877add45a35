"""Drift under load: the server fed news like its validation data, then text of another distribution.

    python benchmarks/drift.py --model modcls/default_model --server-arg=--precision=fast
    python benchmarks/drift.py --url http://127.0.0.1:8000 --token ...

Phase 1 sends project-written news paragraphs (``data/authored``, like much of the validation split the
model's ``score_reference.json`` was made from), phase 2 encyclopaedic paragraphs (PIAF, read by path from
``../shared/data``), each as one-paragraph ``POST /v1/classify`` requests from several clients; after each
phase the drift window (``--drift-window``, started with the server) is read from ``GET /v1/model``. At the
end, the families of ``GET /metrics`` are printed (one line each, the first sample).
"""

from __future__ import annotations

import argparse
import asyncio
import json
import random
import sys
import tempfile
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "benchmarks"))

from load import run_level, start_server  # noqa: E402


def written(limit: int, seed: int) -> list[str]:
    texts = [json.loads(line)["text"] for path in sorted((ROOT / "data" / "authored").rglob("*.jsonl"))
             for line in path.read_text(encoding="utf-8").splitlines() if line.strip()]
    random.Random(seed).shuffle(texts)
    return texts[:limit]


def encyclopaedic(data: Path, limit: int, seed: int) -> list[str]:
    texts = [json.loads(line)["text"] for line in (data / "piaf_v1_1.jsonl").read_text(encoding="utf-8").splitlines()
             if line.strip()]
    random.Random(seed).shuffle(texts)
    return texts[:limit]


def drift(url: str, token: str | None) -> dict[str, Any]:
    import httpx

    headers = {"Authorization": f"Bearer {token}"} if token else {}
    return httpx.get(f"{url}/v1/model", headers=headers, timeout=30).json()["drift"]


def families(url: str, token: str | None) -> list[str]:
    import httpx

    headers = {"Authorization": f"Bearer {token}"} if token else {}
    text = httpx.get(f"{url}/metrics", headers=headers, timeout=30).text
    seen, lines = set(), []
    for line in text.splitlines():
        if line.startswith("#") or not line.strip():
            continue
        name = line.split("{")[0].split(" ")[0]
        family = name.removesuffix("_bucket").removesuffix("_count").removesuffix("_sum").removesuffix("_created")
        if family not in seen and not name.endswith("_created"):
            seen.add(family)
            lines.append(line)
    return lines


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    target = parser.add_mutually_exclusive_group(required=True)
    target.add_argument("--url")
    target.add_argument("--model")
    parser.add_argument("--requests", type=int, default=300, help="requests per phase (default 300)")
    parser.add_argument("--clients", type=int, default=4)
    parser.add_argument("--data", type=Path, default=ROOT.parent / "shared" / "data")
    parser.add_argument("--token")
    parser.add_argument("--server-arg", action="append", default=[])
    args = parser.parse_args(argv)
    if args.model and not any(a.startswith("--drift-window") for a in args.server_arg):
        args.server_arg.append(f"--drift-window={args.requests}")
    server = None
    with tempfile.TemporaryDirectory(prefix="modcls-drift-") as folder:
        try:
            if args.model:
                server, url = start_server(args, Path(folder))
            else:
                url = args.url.rstrip("/")
            phases = {"news (written)": written(args.requests, 0),
                      "encyclopaedic (PIAF)": encyclopaedic(args.data, args.requests, 0)}
            for k, (name, texts) in enumerate(phases.items()):
                row = asyncio.run(run_level(url, args.clients, args.requests, texts, 1, "classify", args.token,
                                            600, 10**6 * (k + 1)))
                report = drift(url, args.token)
                psi = {c: v["psi"] for c, v in (report.get("categories") or {}).items()}
                print(json.dumps({"phase": name, "requests": row["requests"], "errors": row["errors"],
                                  "requests_per_s": row["requests_per_s"], "window": report["window"],
                                  "psi": psi, "max_psi": max(psi.values()) if psi else None}))
            print("\n".join(families(url, args.token)))
        finally:
            if server is not None:
                server.terminate()
                server.wait(30)
    return 0


if __name__ == "__main__":
    sys.exit(main())
