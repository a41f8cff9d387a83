"""`meterhouse`: drive the Dagster asset graph in-process (README.md)."""

import argparse
import os
import sys
import warnings
from collections.abc import Callable
from datetime import UTC, date, datetime
from pathlib import Path
from typing import Any

from orchestration import dbt_docs
from orchestration.settings import REPO_ROOT, Locations, command_environment, export_locations

# A read-only command of orchestration/review_cli.py: parsed arguments and paths in, exit code out.
ReviewCommand = Callable[[argparse.Namespace, Locations], int]


def _dagster_home(locations: Locations) -> Path:
    """The Dagster instance beside the warehouse, so runs show up in `meterhouse ui`."""
    from orchestration.dagster_instance import write_instance_config

    home = Path(os.environ.get("DAGSTER_HOME") or locations.warehouse.parent / "dagster_home")
    write_instance_config(home)
    os.environ["DAGSTER_HOME"] = str(home)
    return home


def _month(value: str) -> str:
    try:
        date.fromisoformat(f"{value}-01")
    except ValueError as error:
        raise argparse.ArgumentTypeError(f"expected YYYY-MM, got {value!r}") from error
    return value


def _instant(value: str) -> str:
    """An ISO 8601 instant, as naive UTC text (the warehouse keeps UTC without a zone)."""
    try:
        instant = datetime.fromisoformat(value.replace("Z", "+00:00"))
    except ValueError as error:
        raise argparse.ArgumentTypeError(f"expected an ISO 8601 instant, got {value!r}") from error
    if instant.tzinfo is not None:
        instant = instant.astimezone(UTC).replace(tzinfo=None)
    return instant.isoformat(sep=" ")


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
    with command_environment(), warnings.catch_warnings():
        if "--debug" not in (sys.argv[1:] if argv is None else argv):
            # Dagster's beta and preview notices about this project's own definitions.
            warnings.filterwarnings("ignore", message=".*(beta|preview).*")
        return _main(argv)


def _main(argv: list[str] | None) -> int:
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

    usage = commands.add_parser(
        "usage", help="load new inputs and refresh current usage (the period to date)"
    )
    usage.add_argument(
        "--as-of",
        type=_instant,
        help="usage instant, ISO 8601 (UTC unless an offset is given); default: latest event",
    )
    usage.add_argument("--customer", help="print this customer's period to date")

    preview = _add_preview(commands)

    ui = commands.add_parser("ui", help="start the Dagster UI on localhost")
    ui.add_argument("--port", type=int, default=3000)
    ui.add_argument("--host", default="127.0.0.1")

    docs = commands.add_parser("docs", help="build and serve the dbt docs of the billing tables")
    dbt_docs.add_arguments(docs)

    for command in (demo, close, finalize, usage, preview, ui, docs):
        _add_locations(command)
    for command in (demo, close, finalize, usage, preview):
        command.add_argument(
            "--wait",
            action="store_true",
            help="if another run holds the warehouse, wait for it instead of refusing",
        )
        _add_output_options(command)
    for command in (demo, close):
        command.add_argument(
            "--strict", action="store_true", help="exit with 3 if any input row was rejected"
        )
    _add_bench(commands)
    from orchestration.api.command import add_serve, run_serve

    add_serve(commands, _add_locations)
    review_commands = _add_review_commands(commands)
    from orchestration.webhooks.cli import add_commands as add_webhook_commands

    review_commands.update(add_webhook_commands(commands, _add_locations))
    args = parser.parse_args(argv)
    if args.command == "serve":
        return run_serve(args)
    if args.command == "bench":
        return _bench(args)
    from orchestration.runs import RunError

    try:
        return _run(args, review_commands)
    except RunError as error:
        print(f"meterhouse: {error}", file=sys.stderr)  # noqa: T201
        return 2
    except Exception as error:
        if getattr(args, "debug", False):
            raise
        print(  # noqa: T201
            f"meterhouse: {type(error).__name__}: {error} (run again with --debug for the "
            "stack trace)",
            file=sys.stderr,
        )
        return 2


def _run(args: argparse.Namespace, review_commands: dict[str, ReviewCommand]) -> int:
    from orchestration import console

    locations = _prepare(args)
    if args.command in review_commands:
        return review_commands[args.command](args, locations)
    if args.command == "ui":
        return _ui(args.host, args.port, locations)
    if args.command == "docs":
        return dbt_docs.command(locations, args)
    from orchestration import runs

    since = datetime.now(UTC).replace(tzinfo=None, microsecond=0)
    console.options.verbose = args.verbose
    console.options.debug = args.debug
    logs = locations.warehouse.parent / "logs"
    console.options.log_path = console.log_path_for(logs, args.command)
    try:
        if args.command == "close":
            # The summary reads the warehouse: under the lock, before a waiting run takes it.
            with runs.warehouse_lock(locations.warehouse, wait=args.wait):
                months = runs.close_month(args.month)
                print(f"Closed {', '.join(months)}; invoices are drafts until finalized.")  # noqa: T201
                print(runs.summary(locations, args.month, since))  # noqa: T201
                rejected = runs.rejected_since(since)
        elif args.command == "finalize":
            with runs.warehouse_lock(locations.warehouse, wait=args.wait):
                runs.finalize_month(args.month)
                print(f"Finalized {args.month}.")  # noqa: T201
                print(runs.summary(locations, args.month))  # noqa: T201
                rejected = []
        elif args.command == "usage":
            figures = runs.refresh_usage(args.as_of, wait=args.wait)
            amounts = ", ".join(f"{v} {k}" for k, v in figures["amount_to_date"].items())
            if figures["unchanged"]:
                print("Nothing new since the last refresh: current usage is unchanged.")  # noqa: T201
            print(  # noqa: T201
                f"Current usage as of {figures['as_of']}: {figures['subscriptions']} active "
                f"subscription(s), {figures['events']} event(s), {amounts or 'no amount'} to date."
            )
            print(f"BI Parquet:  {locations.output_dir / 'marts'}")  # noqa: T201
            if args.customer:
                print(runs.customer_usage_report(args.customer))  # noqa: T201
            rejected = runs.rejected_since(since)
        elif args.command == "preview":
            rejected = _preview(args, since)
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
            rejected = runs.rejected_since(since)
    finally:
        console.options.log_path = None
        console.options.verbose = console.options.debug = False
    if getattr(args, "strict", False) and rejected:
        count = sum(row[2] for row in rejected)
        print(  # noqa: T201
            f"meterhouse: --strict: {count} input row(s) were rejected (listed above)",
            file=sys.stderr,
        )
        return 3
    return 0


def _add_preview(
    commands: "argparse._SubParsersAction[argparse.ArgumentParser]",
) -> argparse.ArgumentParser:
    preview = commands.add_parser(
        "preview",
        help="preview the invoices of the current periods, as if they ended now (nothing billed)",
    )
    preview.add_argument("--customer", help="print (and refresh) only this customer's preview")
    preview.add_argument(
        "--as-of",
        type=_instant,
        help="preview instant, ISO 8601 (UTC unless an offset is given); default: latest event",
    )
    return preview


def _preview(args: argparse.Namespace, since: datetime) -> list[tuple[Any, ...]]:
    """`meterhouse preview`: orchestration/preview.py, docs/preview.md."""
    from orchestration import preview, runs

    figures = preview.preview_invoices(args.customer, args.as_of, wait=args.wait)
    first, last = figures["months"]
    months = first if first == last else f"{first} to {last}"
    print(  # noqa: T201
        f"Previewed {figures['invoices']} invoice(s) as of {figures['as_of']} UTC (a scratch "
        f"copy closed {months} in {figures['close_seconds']} s; nothing was billed)."
    )
    if args.customer:
        print(preview.preview_report(args.customer))  # noqa: T201
    return runs.rejected_since(since)


def _add_output_options(command: argparse.ArgumentParser) -> None:
    command.add_argument(
        "--verbose", action="store_true", help="print dbt's per-model lines as they come"
    )
    command.add_argument("--debug", action="store_true", help="print stack traces of errors")


def _add_review_commands(
    commands: "argparse._SubParsersAction[argparse.ArgumentParser]",
) -> dict[str, ReviewCommand]:
    """status, validate, explain and rejects: read-only commands (orchestration/review_cli.py)."""
    from orchestration import review_cli

    return review_cli.add_commands(commands, _add_locations)


def _formats(value: str) -> tuple[str, ...]:
    formats = tuple(f.strip() for f in value.split(",") if f.strip())
    unknown = set(formats) - {"parquet", "ndjson"}
    if not formats or unknown:
        raise argparse.ArgumentTypeError(f"formats are parquet and/or ndjson, got {value!r}")
    return formats


def _add_bench(commands: "argparse._SubParsersAction[argparse.ArgumentParser]") -> None:
    bench = commands.add_parser(
        "bench", help="benchmark load, close and PDFs against a raw DuckDB floor"
    )
    bench.add_argument("--events", type=int, default=10_000_000, help="events (50000000: large)")
    bench.add_argument("--subscriptions", type=int, default=100_000)
    bench.add_argument("--customers", type=int, help="default: one per subscription")
    bench.add_argument("--months", type=int, default=1)
    bench.add_argument("--last-month", type=_month, default="2026-10")
    bench.add_argument("--formats", type=_formats, default=("parquet", "ndjson"))
    bench.add_argument("--workdir", type=Path, help="default: a temporary directory")
    bench.add_argument("--keep", action="store_true", help="keep the temporary directory")
    bench.add_argument("--seed", type=int, default=7)
    bench.add_argument("--threads", type=int, default=2, help="DuckDB threads (floor, generation)")
    bench.add_argument("--memory-limit", default="3GB", help="DuckDB memory_limit (floor, dbt)")
    bench.add_argument("--no-pdfs", action="store_true", help="skip finalization and PDFs")
    bench.add_argument(
        "--usage", action="store_true", help="current usage refreshes instead of the close"
    )
    bench.add_argument("--json", type=Path, help="also write the figures to this JSON file")
    from orchestration.api.command import add_api_bench_options

    add_api_bench_options(bench)


def _bench(args: argparse.Namespace) -> int:
    if args.api:
        from orchestration.api.command import run_api_bench_command

        return run_api_bench_command(args)
    from meterhouse_tools.bench import BenchOptions, format_table, run_bench

    options = BenchOptions(
        events=args.events,
        subscriptions=args.subscriptions,
        customers=args.customers,
        months=args.months,
        last_month=args.last_month,
        formats=("parquet",) if args.usage else args.formats,
        workdir=args.workdir,
        keep=args.keep,
        seed=args.seed,
        threads=args.threads,
        memory_limit=args.memory_limit,
        render_pdfs=not args.no_pdfs,
        usage=args.usage,
    )
    from orchestration.runs import RunError

    try:
        result = run_bench(options)
    except RunError as error:
        print(f"meterhouse bench: {error}", file=sys.stderr)  # noqa: T201
        return 2
    print(format_table(result))  # noqa: T201
    if args.json:
        args.json.write_text(result.to_json())
    return 0


def _ui(host: str, port: int, locations: Locations) -> int:
    from orchestration.partitions import ui_first_month

    # Partitions start at the first month with data (partitions.py); the UI's code server and
    # its runs inherit this environment.
    if not os.environ.get("MH_FIRST_CLOSE_MONTH"):
        os.environ["MH_DATA_FIRST_MONTH"] = ui_first_month(locations)
    dagster = Path(sys.executable).parent / "dagster"
    os.chdir(REPO_ROOT)
    os.execv(
        str(dagster),
        [str(dagster), "dev", "-m", "orchestration.definitions", "-h", host, "-p", str(port)],
    )
    return 0  # unreachable: execv replaces the process


if __name__ == "__main__":
    sys.exit(main())
