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
