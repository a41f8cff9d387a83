"""`meterhouse serve` (and `meterhouse bench --api`): the command-line side of the API."""

import argparse
import sys
from collections.abc import Callable

from orchestration.settings import export_locations


def add_serve(commands: argparse._SubParsersAction, add_locations: Callable) -> None:
    serve = commands.add_parser("serve", help="the Lago-compatible HTTP API and customer portal")
    serve.add_argument("--host", default="127.0.0.1")
    serve.add_argument("--port", type=int, default=8000)
    serve.add_argument("--workers", type=int, default=1)
    add_locations(serve)


def run_serve(args: argparse.Namespace) -> int:
    from orchestration.api.security import ConfigurationError
    from orchestration.api.server import serve

    locations = export_locations(
        {
            "MH_CATALOG_DIR": args.catalog,
            "MH_LANDING_DIR": args.landing,
            "MH_WAREHOUSE": args.warehouse,
            "MH_OUTPUT_DIR": args.output,
        }
    )
    locations.landing_dir.mkdir(parents=True, exist_ok=True)
    try:
        serve(args.host, args.port, args.workers)
    except ConfigurationError as error:
        print(f"meterhouse serve: {error}", file=sys.stderr)  # noqa: T201
        return 2
    return 0


def add_api_bench_options(bench: argparse.ArgumentParser) -> None:
    """`meterhouse bench --api` and its options (meterhouse_tools/api_bench.py)."""
    bench.add_argument("--api", action="store_true", help="benchmark the HTTP API's batch endpoint")
    bench.add_argument("--api-requests", type=int, default=3000, help="batches to send at most")
    bench.add_argument("--api-batch", type=int, default=100, help="events a batch")
    bench.add_argument("--api-concurrency", type=int, default=32, help="client connections")
    bench.add_argument("--api-seconds", type=float, default=60.0, help="stop sending after")
    bench.add_argument("--api-workers", type=int, default=2, help="server worker processes")


def run_api_bench_command(args: argparse.Namespace) -> int:
    from meterhouse_tools.api_bench import ApiBenchOptions, run_api_bench

    result = run_api_bench(
        ApiBenchOptions(
            requests=args.api_requests,
            batch=args.api_batch,
            concurrency=args.api_concurrency,
            seconds=args.api_seconds,
            workers=args.api_workers,
            workdir=args.workdir,
        )
    )
    print(result.table())  # noqa: T201
    if args.json:
        args.json.write_text(result.to_json())
    return 0
