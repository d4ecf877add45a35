"""``modcls classify --engine ray``: score Parquet or JSONL with Ray Data, locally or on a cluster."""

from __future__ import annotations

import argparse
import json
import sys


def add_options(parser: argparse.ArgumentParser) -> None:
    group = parser.add_argument_group(
        "ray engine", "--engine ray: IN is files, folders or globs (comma-separated; Parquet, JSONL or text), "
        "OUT a folder of part files (Parquet in gives Parquet out, else JSONL). Needs modcls[ray].")
    group.add_argument("--engine", choices=("local", "ray"), default="local",
                       help="local: stream on this machine (default); ray: Ray Data")
    group.add_argument("--ray-address", metavar="ADDR",
                       help="Ray cluster to join (ray://head:10001, auto); default: start a local instance")
    group.add_argument("--ray-workers", type=int, default=1, metavar="N", help="model replicas (default 1)")
    group.add_argument("--ray-worker-cpus", type=float, default=1.0, metavar="X", help="CPUs per replica (default 1)")
    group.add_argument("--output-format", choices=("jsonl", "parquet"), help="output format (default: as input)")
    group.add_argument("--text-column", default="text", metavar="NAME", help="column holding the text (default text)")


def run(args: argparse.Namespace) -> int:
    from . import CommandError
    from .common import require_extra

    if args.batch_size < 1 or args.ray_workers < 1 or args.ray_worker_cpus <= 0:
        raise CommandError("--batch-size and --ray-workers must be at least 1, --ray-worker-cpus above 0")
    if args.input == "-" or args.output == "-":
        raise CommandError("--engine ray reads files and writes a folder, not stdin/stdout")
    require_extra("ray", "ray", "pyarrow")
    from ..distributed import run_ray_job

    done = run_ray_job(
        args.input, args.output, model=args.model, policy=args.policy, precision=args.precision,
        fmt=args.format, output_format=args.output_format, text_column=args.text_column,
        address=args.ray_address, workers=args.ray_workers, worker_cpus=args.ray_worker_cpus,
        batch_size=args.batch_size, skip_invalid=args.skip_invalid,
    )
    print(f"modcls: {json.dumps(done)}", file=sys.stderr)
    return 0
