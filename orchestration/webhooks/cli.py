"""`meterhouse webhooks deliver | list | endpoints` (docs/webhooks.md)."""

import argparse
import sys
from collections.abc import Callable

import pyarrow.parquet as pq

from orchestration.settings import Locations
from orchestration.webhooks.config import WebhookConfigError, load_settings
from orchestration.webhooks.delivery import deliver_due, deliver_until_done

STATUSES = ("pending", "retrying", "succeeded", "failed")


def add_commands(
    commands: argparse._SubParsersAction, add_locations: Callable[[argparse.ArgumentParser], None]
) -> dict:
    webhooks = commands.add_parser("webhooks", help="deliver and list webhooks (docs/webhooks.md)")
    actions = webhooks.add_subparsers(dest="webhooks_command", required=True)
    deliver = actions.add_parser("deliver", help="send the webhooks that are due, with retries")
    deliver.add_argument(
        "--once", action="store_true", help="one pass: do not wait for the retries' delays"
    )
    listing = actions.add_parser("list", help="the delivery log (as last published)")
    listing.add_argument("--status", choices=STATUSES)
    listing.add_argument("--limit", type=int, default=50)
    actions.add_parser("endpoints", help="check and show the configured endpoints")
    for action in (deliver, listing, actions.choices["endpoints"]):
        add_locations(action)
    return {"webhooks": run}


def run(args: argparse.Namespace, locations: Locations) -> int:
    try:
        settings = load_settings()
    except WebhookConfigError as error:
        print(f"meterhouse: webhook configuration: {error}", file=sys.stderr)  # noqa: T201
        return 2
    if args.webhooks_command == "endpoints":
        print(f"Endpoints ({settings.source}):")  # noqa: T201
        for endpoint in settings.endpoints:
            types = ", ".join(endpoint.event_types) if endpoint.event_types is not None else "all"
            print(f"  {endpoint.url}  {endpoint.signature_algo}  events: {types or 'none'}")  # noqa: T201
        return 0
    if args.webhooks_command == "deliver":
        reports = (
            [deliver_due(locations, settings)]
            if args.once
            else deliver_until_done(locations, settings)
        )
        last = reports[-1]
        if last.skipped:
            print(f"Webhooks: delivery skipped: {last.skipped}.")  # noqa: T201
            return 0
        sent = sum(r.attempted for r in reports)
        ok = sum(r.succeeded for r in reports)
        counts = ", ".join(f"{status} {last.counts.get(status, 0)}" for status in STATUSES)
        print(f"Webhooks: {sent} tries, {ok} succeeded. Outbox: {counts}.")  # noqa: T201
        if last.next_attempt_at:
            print(f"Next retry at {last.next_attempt_at:%Y-%m-%d %H:%M:%S} UTC.")  # noqa: T201
        return 0
    return _list(locations, args.status, args.limit)


def _list(locations: Locations, status: str | None, limit: int) -> int:
    path = locations.output_dir / "marts" / "fct_webhook_deliveries.parquet"
    if not path.exists():
        print("No webhook queued yet.")  # noqa: T201
        return 0
    rows = [r for r in pq.read_table(path).to_pylist() if status in (None, r["status"])]
    print(f"{len(rows)} deliveries{f' {status}' if status else ''} (latest {limit}):")  # noqa: T201
    for r in rows[-limit:]:
        print(  # noqa: T201
            f"  {r['created_at']:%Y-%m-%d %H:%M:%S}  {r['status']:<9} {r['webhook_type']:<27} "
            f"{r['object_id']:<36} {r['endpoint_url']}  http {r['http_status'] or '-'}  "
            f"tries {r['attempts']}{'  ' + r['last_error'] if r['last_error'] else ''}"
        )
    return 0
