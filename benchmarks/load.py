#!/usr/bin/env python3
"""Load test for ``modcls serve``: N concurrent clients, a bounded number of requests, on loopback.

    # start a server on a free loopback port with this model, test 1, 8 and 32 clients, stop it
    python benchmarks/load.py --model modcls/default_model --clients 1,8,32 --requests 200
    # or drive a server that is already running
    python benchmarks/load.py --url http://127.0.0.1:8000 --clients 8 --requests 500

Each request is ``POST /v1/classify`` with ``--paragraphs`` paragraphs (or ``/v1/moderate`` with an
article of that many paragraphs, ``--endpoint moderate``). Paragraphs are project-written news
paragraphs from ``data/authored`` made unique per request (the model's cache never answers). For each
client count it prints requests/s, paragraphs/s, p50/p95/p99 latency and the error count.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import socket
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
FALLBACK = [
    "La police a interpellé mardi deux hommes soupçonnés d'avoir braqué une bijouterie du centre-ville.",
    "Le conseil municipal a voté le budget 2025, marqué par une hausse des dépenses d'investissement.",
    "Météo : des averses orageuses sont attendues sur la moitié nord du pays en fin de journée.",
    "L'équipe locale s'est imposée 2-1 face au leader du championnat grâce à un but dans les arrêts de jeu.",
]


def load_paragraphs(limit: int = 400) -> list[str]:
    """Project-written paragraphs (MIT) from data/authored; a few built-in ones if absent."""
    texts: list[str] = []
    for path in sorted((ROOT / "data" / "authored").rglob("*.jsonl")):
        with open(path, encoding="utf-8") as f:
            for line in f:
                if line.strip():
                    texts.append(json.loads(line)["text"])
                if len(texts) >= limit:
                    return texts
    return texts or FALLBACK


def percentile(values: list[float], q: float) -> float:
    if not values:
        return float("nan")
    ordered = sorted(values)
    k = min(len(ordered) - 1, max(0, round(q / 100 * (len(ordered) - 1))))
    return ordered[k]


async def run_level(url: str, clients: int, requests: int, paragraphs: list[str], per_request: int,
                    endpoint: str, token: str | None, max_seconds: float, offset: int) -> dict[str, Any]:
    import httpx

    headers = {"Authorization": f"Bearer {token}"} if token else {}
    latencies: list[float] = []
    errors = 0
    counter = iter(range(requests))
    limits = httpx.Limits(max_connections=clients, max_keepalive_connections=clients)

    def body(n: int) -> dict[str, Any]:
        texts = [f"{paragraphs[(n * per_request + k) % len(paragraphs)]} (réf. {offset + n}-{k})"
                 for k in range(per_request)]
        if endpoint == "moderate":
            return {"text": "\n\n".join(texts), "id": f"load-{offset + n}"}
        return {"paragraphs": texts, "article_id": f"load-{offset + n}"}

    async def client(http: httpx.AsyncClient, deadline: float) -> None:
        nonlocal errors
        for n in counter:
            if time.perf_counter() > deadline:
                return
            started = time.perf_counter()
            try:
                r = await http.post(f"/v1/{endpoint}", json=body(n))
                ok = r.status_code == 200
            except httpx.HTTPError:
                ok = False
            if ok:
                latencies.append((time.perf_counter() - started) * 1000)
            else:
                errors += 1

    async with httpx.AsyncClient(base_url=url, headers=headers, timeout=120, limits=limits) as http:
        started = time.perf_counter()
        await asyncio.gather(*(client(http, started + max_seconds) for _ in range(clients)))
        seconds = time.perf_counter() - started
    done = len(latencies)
    return {
        "clients": clients,
        "requests": done + errors,
        "errors": errors,
        "seconds": round(seconds, 2),
        "requests_per_s": round(done / seconds, 2),
        "paragraphs_per_s": round(done * per_request / seconds, 2),
        "p50_ms": round(percentile(latencies, 50), 1),
        "p95_ms": round(percentile(latencies, 95), 1),
        "p99_ms": round(percentile(latencies, 99), 1),
    }


def start_server(args: argparse.Namespace, work: Path) -> tuple[subprocess.Popen, str]:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    command = [sys.executable, "-m", "modcls", "serve", "--host", "127.0.0.1", "--port", str(port),
               "--model", args.model, "--review-db", str(work / "review.sqlite")]
    command += args.server_arg
    log = open(work / "server.log", "w")  # noqa: SIM115 - closed with the process
    env = os.environ | ({"MODCLS_API_TOKEN": args.token} if args.token else {})
    server = subprocess.Popen(command, stdout=log, stderr=subprocess.STDOUT, env=env, cwd=ROOT)
    url = f"http://127.0.0.1:{port}"
    import httpx

    deadline = time.time() + 300
    while time.time() < deadline:
        if server.poll() is not None:
            raise SystemExit(f"load: the server exited:\n{(work / 'server.log').read_text()[-2000:]}")
        try:
            if httpx.get(f"{url}/readyz", timeout=2).status_code == 200:
                return server, url
        except httpx.HTTPError:
            pass
        time.sleep(0.25)
    server.kill()
    raise SystemExit("load: the server did not become ready in 300 s")


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    target = parser.add_mutually_exclusive_group(required=True)
    target.add_argument("--url", help="a running server, e.g. http://127.0.0.1:8000")
    target.add_argument("--model", help="start `modcls serve --model MODEL` on loopback for the test")
    parser.add_argument("--clients", default="1,8,32", help="comma-separated concurrency levels (default 1,8,32)")
    parser.add_argument("--requests", type=int, default=200, help="requests per level (default 200)")
    parser.add_argument("--max-seconds", type=float, default=120, help="stop a level after this long (default 120)")
    parser.add_argument("--paragraphs", type=int, default=1, help="paragraphs per request (default 1)")
    parser.add_argument("--endpoint", choices=("classify", "moderate"), default="classify")
    parser.add_argument("--warmup", type=int, default=5, help="unmeasured requests before each level")
    parser.add_argument("--token", default=os.environ.get("MODCLS_API_TOKEN"), help="bearer token, if required")
    parser.add_argument("--server-arg", action="append", default=[], help="extra `modcls serve` argument")
    parser.add_argument("--json", action="store_true", help="print one JSON object per level")
    args = parser.parse_args(argv)

    paragraphs = load_paragraphs()
    levels = [int(c) for c in args.clients.split(",")]
    server = None
    with tempfile.TemporaryDirectory(prefix="modcls-load-") as folder:
        try:
            if args.model:
                server, url = start_server(args, Path(folder))
            else:
                url = args.url.rstrip("/")
            if not args.json:
                print(f"{'clients':>7} {'requests':>8} {'errors':>6} {'req/s':>8} {'para/s':>8} "
                      f"{'p50 ms':>8} {'p95 ms':>8} {'p99 ms':>8}")
            offset = int(time.time() * 1000) % 10**9
            for clients in levels:
                asyncio.run(run_level(url, 1, args.warmup, paragraphs, args.paragraphs, args.endpoint, args.token,
                                      60, offset))
                offset += args.warmup
                row = asyncio.run(run_level(url, clients, args.requests, paragraphs, args.paragraphs,
                                            args.endpoint, args.token, args.max_seconds, offset))
                offset += args.requests
                if args.json:
                    print(json.dumps(row | {"paragraphs_per_request": args.paragraphs, "endpoint": args.endpoint}))
                else:
                    print(f"{row['clients']:>7} {row['requests']:>8} {row['errors']:>6} {row['requests_per_s']:>8} "
                          f"{row['paragraphs_per_s']:>8} {row['p50_ms']:>8} {row['p95_ms']:>8} {row['p99_ms']:>8}")
                sys.stdout.flush()
        finally:
            if server is not None:
                server.terminate()
                try:
                    server.wait(30)
                except subprocess.TimeoutExpired:
                    server.kill()
                    server.wait(10)
    return 0


if __name__ == "__main__":
    sys.exit(main())
