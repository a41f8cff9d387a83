"""Deterministic demo data set for Lumen Labs, an AI/API company: the input of `make demo`.

`generate_demo_dataset()` writes the operational inputs of docs/inputs.md into a landing directory:

- `customers/customers.csv` and `customers/customer_updates.ndjson` (a few later rows; the latest
  `updated_at` wins);
- `subscriptions/subscriptions.csv` (one phase per subscription; calendar billing, anniversary
  billing for every other mid-month start);
- `events/events_YYYY-MM.ndjson` for the first month, `.csv` for the second, `.parquet` for the
  third and later (a month with more than `event_draws.MAX_ROWS_PER_FILE` rows is split into
  `events_YYYY-MM_partNN.*` by time), and `events/replay_YYYY-MM.ndjson`, which repeats rows of
  the first month's file;
- `applied_coupons/applied_coupons.csv`, `wallets/wallets.csv` and
  `wallet_transactions/wallet_transactions.csv`: the money after the fees (docs/rules.md §13, §15):
  coupons of `seeds/catalog/coupons.csv` on some customers, and prepaid-credit wallets with
  granted, purchased (a `credit` invoice, paid a day later) and voided credits;
- `demo_manifest.json` (see `DemoManifest`).

Load order: files are meant to be loaded in lexicographic order of their path relative to the
landing directory (`events/events_…` before `events/replay_…`). Every injected duplicate appears
after its original in that order: later in the same file or in a later file.

Event files share one shape: `transaction_id`, `external_subscription_id`, `code`, `timestamp`,
`properties` (a JSON object; as text in CSV and Parquet), `operation_type`, `precise_total_amount`
(both always empty). `transaction_id` is unique per subscription only (`tx_1`, `tx_2`, … restart
in every subscription), so the event key is (`external_subscription_id`, `transaction_id`).
Timestamps are ISO 8601 UTC with milliseconds (`2026-08-03T10:15:22.123Z`); about 10 % of the
NDJSON lines carry Unix seconds instead, and about 10 % use Lago's API body `{"event": {...}}`.
Anomalies are injected on purpose and counted in the manifest (`ANOMALY_KINDS`).

Same arguments, same bytes: every random draw comes from `numpy.random.default_rng(seed)`.

One job a module: `generator` (the entry point) writes `customers`, `subscriptions`, `accounts`
(coupons and wallets) and `events`, which draws blocks (`event_draws`), adds `anomalies` and
formats the files (`event_files`); `vocabulary`, `countries`, `clock`, `writers` and `manifest`
hold what they share.
"""

from meterhouse_tools.demo_data.generator import generate_demo_dataset
from meterhouse_tools.demo_data.manifest import ANOMALY_KINDS, MANIFEST_NAME, DemoManifest
from meterhouse_tools.demo_data.vocabulary import (
    CUSTOMER_FIELDS,
    EVENT_FIELDS,
    METRICS,
    PLAN_MIX,
    PLANS_BY_CURRENCY,
)

__all__ = [
    "ANOMALY_KINDS",
    "CUSTOMER_FIELDS",
    "EVENT_FIELDS",
    "MANIFEST_NAME",
    "METRICS",
    "PLANS_BY_CURRENCY",
    "PLAN_MIX",
    "DemoManifest",
    "generate_demo_dataset",
]
