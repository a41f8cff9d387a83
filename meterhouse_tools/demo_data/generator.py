"""The demo's entry point: clean the landing directory, write every input, the manifest."""

import json
from datetime import date
from pathlib import Path

import numpy as np

from meterhouse_tools.demo_data.accounts import ACCOUNT_FILES, write_account_inputs
from meterhouse_tools.demo_data.customers import customer_updates, make_customers
from meterhouse_tools.demo_data.events import write_events
from meterhouse_tools.demo_data.manifest import MANIFEST_NAME, DemoManifest
from meterhouse_tools.demo_data.subscriptions import make_subscriptions, subscription_rows
from meterhouse_tools.demo_data.vocabulary import CUSTOMER_FIELDS, SUBSCRIPTION_FIELDS
from meterhouse_tools.demo_data.writers import write_csv


def _clean(landing_dir: Path) -> None:
    """Remove files an earlier demo run wrote (only the demo's own file names)."""
    patterns = (
        "customers/customers.csv",
        "customers/customer_updates.ndjson",
        "subscriptions/subscriptions.csv",
        "events/events_*.ndjson",
        "events/events_*.csv",
        "events/events_*.parquet",
        "events/replay_*.ndjson",
        *ACCOUNT_FILES,
        MANIFEST_NAME,
    )
    for pattern in patterns:
        for path in sorted(landing_dir.glob(pattern)):
            if path.is_file():
                path.unlink()
    for folder in (
        "customers",
        "subscriptions",
        "events",
        "applied_coupons",
        "wallets",
        "wallet_transactions",
    ):
        (landing_dir / folder).mkdir(parents=True, exist_ok=True)


def generate_demo_dataset(
    landing_dir: Path,
    *,
    seed: int = 7,
    months: int = 3,
    customers: int = 60,
    events: int = 1_000_000,
    first_month: date = date(2026, 8, 1),
) -> DemoManifest:
    """Write the Lumen Labs demo data set into `landing_dir` and return its manifest.

    Deterministic: the same arguments give byte-identical files. Earlier demo files in
    `customers/`, `subscriptions/` and `events/` are removed first; other files are left alone.
    `events` is the exact number of event rows written (anomalies and duplicates included).
    """
    if months < 1:
        raise ValueError("months must be at least 1")
    if customers < 1:
        raise ValueError("customers must be at least 1")
    if first_month.day != 1:
        raise ValueError("first_month must be the first day of a month")
    landing_dir = Path(landing_dir)
    _clean(landing_dir)
    rng_customers, rng_subscriptions, rng_events = np.random.default_rng(seed).spawn(3)

    people = make_customers(rng_customers, customers, first_month)
    updates = customer_updates(rng_customers, people, first_month)
    subs = make_subscriptions(rng_subscriptions, people, first_month, months)
    write_csv(landing_dir / "customers/customers.csv", CUSTOMER_FIELDS, (c.row for c in people))
    with (landing_dir / "customers/customer_updates.ndjson").open("w", encoding="utf-8") as fh:
        fh.writelines(json.dumps(row, ensure_ascii=False) + "\n" for row in updates)
    write_csv(
        landing_dir / "subscriptions/subscriptions.csv",
        SUBSCRIPTION_FIELDS,
        subscription_rows(subs, people),
    )
    write_account_inputs(landing_dir, people, first_month)
    event_files, injected, written = write_events(
        rng_events, landing_dir, subs, people, first_month, months, events
    )
    manifest = DemoManifest(
        first_month=first_month,
        months=months,
        customers=customers,
        subscriptions=len(subs),
        events_written=written,
        files=tuple(
            sorted(
                [
                    "customers/customer_updates.ndjson",
                    "customers/customers.csv",
                    "subscriptions/subscriptions.csv",
                    *ACCOUNT_FILES,
                    *event_files,
                ]
            )
        ),
        injected=injected,
    )
    (landing_dir / MANIFEST_NAME).write_text(manifest.to_json(), encoding="utf-8")
    return manifest
