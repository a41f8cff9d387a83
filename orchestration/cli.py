"""`meterhouse`: drive the Dagster asset graph in-process (CONTRACT §1)."""

import argparse
import os
import sys
from datetime import date
from pathlib import Path

from orchestration.settings import REPO_ROOT, Locations, export_locations

DAGSTER_YAML = """\
telemetry:
  enabled: false
concurrency:
  pools:
    default_limit: 1   # one DuckDB writer at a time (stack notes §3)
"""


def _dagster_home(locations: Locations) -> Path:
    """The Dagster instance beside the warehouse, so runs show up in `meterhouse ui`."""
    home = Path(os.environ.get("DAGSTER_HOME") or locations.warehouse.parent / "dagster_home")
    home.mkdir(parents=True, exist_ok=True)
    config = home / "dagster.yaml"
    if not config.exists():
        config.write_text(DAGSTER_YAML)
    os.environ["DAGSTER_HOME"] = str(home)
    return home


def _month(value: str) -> str:
    try:
        date.fromisoformat(f"{value}-01")
    except ValueError as error:
        raise argparse.ArgumentTypeError(f"expected YYYY-MM, got {value!r}") from error
    return value


def _add_locations(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--catalog", help="catalog directory (MH_CATALOG_DIR)")
    parser.add_argument("--landing", help="landing directory (MH_LANDING_DIR)")
    parser.add_argument("--warehouse", help="DuckDB warehouse file (MH_WAREHOUSE)")
    parser.add_argument("--output", help="output directory (MH_OUTPUT_DIR)")


def _prepare(args: argparse.Namespace) -> Locations:
    locations = export_locations(
        {
            "MH_CATALOG_DIR": args.catalog,
            "MH_LANDING_DIR": args.landing,
            "MH_WAREHOUSE": args.warehouse,
            "MH_OUTPUT_DIR": args.output,
        }
    )
    locations.warehouse.parent.mkdir(parents=True, exist_ok=True)
    _dagster_home(locations)
    from orchestration.project import ensure_manifest

    ensure_manifest()
    return locations


def main(argv: list[str] | None = None) -> int:
    """Entry point of the `meterhouse` command."""
    parser = argparse.ArgumentParser(prog="meterhouse", description=__doc__)
    commands = parser.add_subparsers(dest="command", required=True)

    demo = commands.add_parser("demo", help="generate the demo data set and close it")
    demo.add_argument("--months", type=int, default=3)
    demo.add_argument("--customers", type=int, default=60)
    demo.add_argument("--events", type=int, default=1_000_000)
    demo.add_argument("--seed", type=int, default=7)
    demo.add_argument("--first-month", type=_month, default="2026-08")

    close = commands.add_parser("close", help="close a billing month (invoices in draft)")
    close.add_argument("--month", type=_month, required=True)

    finalize = commands.add_parser("finalize", help="number and freeze a closed month")
    finalize.add_argument("--month", type=_month, required=True)

    ui = commands.add_parser("ui", help="start the Dagster UI on localhost")
    ui.add_argument("--port", type=int, default=3000)
    ui.add_argument("--host", default="127.0.0.1")

    for command in (demo, close, finalize, ui):
        _add_locations(command)
    for command in (demo, close, finalize):
        command.add_argument(
            "--wait",
            action="store_true",
            help="if another run holds the warehouse, wait for it instead of refusing",
        )
    args = parser.parse_args(argv)
    from orchestration.runs import RunError

    try:
        locations = _prepare(args)
        from orchestration import runs

        if args.command == "close":
            # The summary reads the warehouse: under the lock, before a waiting run takes it.
            with runs.warehouse_lock(locations.warehouse, wait=args.wait):
                months = runs.close_month(args.month)
                print(f"Closed {', '.join(months)}; invoices are drafts until finalized.")  # noqa: T201
                print(runs.summary(locations))  # noqa: T201
        elif args.command == "finalize":
            with runs.warehouse_lock(locations.warehouse, wait=args.wait):
                runs.finalize_month(args.month)
                print(f"Finalized {args.month}.")  # noqa: T201
                print(runs.summary(locations))  # noqa: T201
        elif args.command == "demo":
            runs.demo(
                locations,
                months=args.months,
                customers=args.customers,
                events=args.events,
                seed=args.seed,
                first_month=args.first_month,
                wait=args.wait,
            )
        elif args.command == "ui":
            return _ui(args.host, args.port)
    except RunError as error:
        print(f"meterhouse: {error}", file=sys.stderr)  # noqa: T201
        return 2
    return 0


def _ui(host: str, port: int) -> int:
    dagster = Path(sys.executable).parent / "dagster"
    os.chdir(REPO_ROOT)
    os.execv(
        str(dagster),
        [str(dagster), "dev", "-m", "orchestration.definitions", "-h", host, "-p", str(port)],
    )
    return 0  # unreachable: execv replaces the process


if __name__ == "__main__":
    sys.exit(main())
