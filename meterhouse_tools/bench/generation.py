"""Generate the bench's data set: customers, subscriptions, and N events in Parquet and NDJSON.

Both formats hold the same rows; a small share are exact or conflicting duplicates, and a few
dozen are bad, so that validation and de-duplication do real work.
"""

import math
import shutil
import time
from collections.abc import Sequence
from datetime import UTC, date, datetime
from pathlib import Path

import duckdb
import numpy as np
import pyarrow as pa

from meterhouse_tools.bench.part_sql import PART_SQL, properties_sql
from meterhouse_tools.bench.results import BenchOptions, Generated
from meterhouse_tools.bench.shared import EVENT_COLUMNS, bench_connection
from meterhouse_tools.demo_data.clock import add_months, epoch_ms, iso_instant, local_midnight_ms
from meterhouse_tools.demo_data.customers import make_customers
from meterhouse_tools.demo_data.event_files import sql_list
from meterhouse_tools.demo_data.subscriptions import Subscription, primary_plans, subscription_rows
from meterhouse_tools.demo_data.vocabulary import (
    CUSTOMER_FIELDS,
    METRICS,
    NUMERIC_STRING_SHARE,
    PLAN_MIX,
    PLANS_BY_CURRENCY,
    SUBSCRIPTION_FIELDS,
)
from meterhouse_tools.demo_data.writers import write_csv

ROWS_PER_FILE = 1_000_000

# Shares of the regular events that are written again (docs/bad-input.md duplicates).
DUPLICATE_SHARE = 0.002  # exact copy in the same file
CONFLICT_SHARE = 0.0005  # same key, other properties, in the month's later `resent` file
REPLAY_SHARE = 0.001  # exact copy in the `resent` file
# Events stay this far from every UTC month boundary, so that they fall in the same billing
# month in every customer timezone of the demo (UTC-8 .. UTC+9) and the floor can ignore zones.
BOUNDARY_MARGIN_MS = 14 * 3_600_000


def _bad_rows(count: int, month_start_ms: int, sub_ids: Sequence[str]) -> list[dict]:
    """`count` rows of each rejection kind the loader or the close must catch."""
    ts = iso_instant(month_start_ms + 2 * 86_400_000, millis=True)
    ok = '{"endpoint": "/v1/chat", "region": "us"}'
    kinds: list[tuple[str, dict[str, str | None]]] = [
        ("missing_field", {"code": None}),
        ("missing_field", {"transaction_id": None}),
        ("bad_timestamp", {"timestamp": "not-a-date"}),
        ("bad_timestamp", {"timestamp": "2026-13-45T00:00:00Z"}),
        ("future_timestamp", {"timestamp": "2099-01-01T00:00:00Z"}),
        ("bad_value", {"code": "tokens", "properties": "[120, 80]"}),
        ("bad_value", {"code": "tokens", "properties": '"tokens=120"'}),
        ("unknown_metric", {"code": "nonexistent_metric", "properties": '{"value": 3}'}),
        ("unknown_subscription", {"external_subscription_id": "sub_ghost"}),
    ]
    rows = []
    for k in range(count):
        for n, (kind, change) in enumerate(kinds):
            row = {
                "transaction_id": f"bad_{k}_{n}",
                "external_subscription_id": sub_ids[(k * len(kinds) + n) % len(sub_ids)],
                "code": "api_calls",
                "timestamp": ts,
                "properties": ok,
                "kind": kind,
                "arrival": month_start_ms + 2 * 86_400_000 + k * 1000 + n,
            }
            row.update(change)
            if kind == "unknown_subscription":
                row["external_subscription_id"] = f"sub_ghost_{k}"
            rows.append(row)
    return rows


def _write_event_file(
    conn: duckdb.DuckDBPyConnection, relation: str, paths: dict[str, Path]
) -> None:
    """Write `relation` (EVENT_COLUMNS + arrival, ord) to one file per format, in arrival order."""
    columns = ", ".join(f'"{c}"' for c in EVENT_COLUMNS)
    for fmt, path in paths.items():
        target = str(path).replace("'", "''")
        if fmt == "parquet":
            # properties stay JSON text, as in the demo's Parquet files.
            conn.execute(
                f"copy (select {columns} from {relation} order by arrival, ord) to '{target}' "
                "(format parquet, compression zstd, row_group_size 250000)"
            )
        else:
            conn.execute(
                f'copy (select transaction_id, external_subscription_id, code, "timestamp", '
                f"cast(properties as json) as properties from {relation} "
                f"order by arrival, ord) to '{target}' (format json)"
            )


def generate(options: BenchOptions, root: Path) -> Generated:
    """Write the bench's landing directories (one per format); deterministic for the options."""
    started = time.perf_counter()
    months = [date.fromisoformat(f"{key}-01") for key in options.month_keys]
    first_month = months[0]
    n_customers = options.customers or options.subscriptions
    rng_customers, rng_subs, rng_events = np.random.default_rng(options.seed).spawn(3)

    # Customers and subscriptions: the demo's own helpers (names, addresses, timezones, taxes).
    people = make_customers(rng_customers, n_customers, first_month)
    primary = primary_plans(rng_subs, people)
    width = max(6, len(str(options.subscriptions)))
    subs = []
    for n in range(options.subscriptions):
        customer = n % n_customers
        plan = primary[customer]
        if n >= n_customers:  # a further subscription: another plan of the customer's currency
            options_ = PLANS_BY_CURRENCY[people[customer].country.currency]
            plan = options_[int(rng_subs.integers(len(options_)))][0]
        # The first local day of the month, but not before the month starts in UTC: a start on
        # the UTC eve (east of UTC) would make the close backfill an empty previous month.
        started_ms = max(
            local_midnight_ms(first_month, people[customer].row["timezone"]),
            epoch_ms(datetime(first_month.year, first_month.month, 1, tzinfo=UTC)),
        )
        subs.append(Subscription(f"sub_{n + 1:0{width}d}", customer, plan, started_ms, None))

    landing = {fmt: root / f"landing_{fmt}" for fmt in options.formats}
    for folder in landing.values():
        for name in ("customers", "subscriptions", "events"):
            (folder / name).mkdir(parents=True, exist_ok=True)
    first = landing[options.formats[0]]
    write_csv(first / "customers" / "customers.csv", CUSTOMER_FIELDS, (c.row for c in people))
    write_csv(
        first / "subscriptions" / "subscriptions.csv",
        SUBSCRIPTION_FIELDS,
        subscription_rows(subs, people),
    )
    for folder in list(landing.values())[1:]:
        for name in ("customers/customers.csv", "subscriptions/subscriptions.csv"):
            shutil.copyfile(first / name, folder / name)

    # Per-subscription drawing parameters: the plan's metric mix, the country's regions.
    n_subs = len(subs)
    mix = np.array([np.cumsum(PLAN_MIX[s.plan]) for s in subs])
    mix = mix / mix[:, -1:]
    present = np.array([np.array(PLAN_MIX[s.plan]) > 0 for s in subs])
    # Metric k is drawn when t_k <= u < t_(k+1): t_k is the share of the metrics before k (a
    # metric the plan lacks has an empty interval). Past the plan's last metric the thresholds
    # are out of reach, so rounding cannot draw a metric the plan does not charge.
    thresholds = mix[:, :5].copy()
    last_metric = present.shape[1] - 1 - np.argmax(present[:, ::-1], axis=1)
    for i in range(n_subs):
        thresholds[i, last_metric[i] :] = 2.0
    regions = np.array(
        [np.cumsum(people[s.customer].country.region_weights)[:2] for s in subs]
    ) / np.array([[sum(people[s.customer].country.region_weights)] * 2 for s in subs])
    subs_table = pa.table(
        {
            "sub": np.arange(n_subs, dtype=np.int32),
            "sub_id": [s.sub_id for s in subs],
            "user_key": [people[s.customer].key for s in subs],
            "user_pool": np.array([people[s.customer].user_pool for s in subs], dtype=np.int64),
            **{f"t{k + 1}": thresholds[:, k] for k in range(5)},
            "r1": regions[:, 0],
            "r2": regions[:, 1],
        }
    )

    # How many regular events each subscription sends in each file (lognormal activity).
    copies = 1 + DUPLICATE_SHARE + CONFLICT_SHARE + REPLAY_SHARE
    bad_per_kind = max(1, min(10, options.events // 100_000))
    n_bad = 9 * bad_per_kind
    n_regular = max(0, round((options.events - n_bad) / copies))
    if n_regular < 2 * n_subs:
        raise ValueError(f"{options.events} events are too few for {n_subs} subscriptions")
    per_month = math.ceil(n_regular / len(months))
    parts = max(1, math.ceil(per_month / ROWS_PER_FILE))
    weights = rng_events.lognormal(0.0, 1.3, size=n_subs)
    per_sub = rng_events.multinomial(n_regular, weights / weights.sum())
    cells = len(months) * parts
    counts = rng_events.multinomial(per_sub, np.full(cells, 1.0 / cells))  # (subs, cells)
    bases = np.cumsum(counts, axis=1) - counts

    conn = bench_connection(options)
    conn.register("subs_arrow", subs_table)
    conn.execute("create temp table subs as select * from subs_arrow")
    conn.unregister("subs_arrow")
    conn.execute(
        "create temp table resent (transaction_id varchar, external_subscription_id varchar, "
        'code varchar, "timestamp" varchar, properties varchar, arrival bigint, ord bigint)'
    )
    files: dict[str, list[Path]] = {fmt: [] for fmt in options.formats}
    written = 0
    injected = dict.fromkeys(("exact_duplicate", "conflicting_duplicate"), 0)
    metrics = sql_list(METRICS)
    for m, month in enumerate(months):
        next_month = add_months(month, 1)
        month_start = epoch_ms(datetime(month.year, month.month, 1, tzinfo=UTC))
        month_end = epoch_ms(datetime(next_month.year, next_month.month, 1, tzinfo=UTC))
        edges = np.linspace(
            month_start + BOUNDARY_MARGIN_MS, month_end - BOUNDARY_MARGIN_MS, parts + 1
        ).astype(np.int64)
        conn.execute("delete from resent")
        for p in range(parts):
            cell = m * parts + p
            conn.register(
                "part_counts",
                pa.table(
                    {
                        "sub": np.arange(n_subs, dtype=np.int32),
                        "cnt": counts[:, cell].astype(np.int64),
                        "base": bases[:, cell].astype(np.int64),
                    }
                ),
            )
            conn.execute(
                PART_SQL.format(
                    seed=int(options.seed),
                    lo=int(edges[p]),
                    span=int(edges[p + 1] - edges[p]),
                    numeric_string_share=NUMERIC_STRING_SHARE,
                    metrics=metrics,
                    properties=properties_sql("cat", "val"),
                    other_properties=properties_sql("cat + 1", "other_val"),
                    dup=DUPLICATE_SHARE,
                    conflict=CONFLICT_SHARE,
                    replay=REPLAY_SHARE,
                )
            )
            conn.unregister("part_counts")
            select = (
                'select transaction_id, external_subscription_id, code, "timestamp", {props} '
                "as properties, {arrival} as arrival, sub * 4294967296 + seq as ord"
            )
            relations = [
                select.format(props="properties", arrival="ts") + " from part_events",
                select.format(props="properties", arrival="copy_arrival")
                + " from part_events where copy_kind = 'duplicate'",
            ]
            if m == 0 and p == 0:
                bad = _bad_rows(bad_per_kind, month_start, [s.sub_id for s in subs])
                conn.register(
                    "bad_rows",
                    pa.Table.from_pylist(
                        bad,
                        schema=pa.schema(
                            [(c, pa.string()) for c in EVENT_COLUMNS]
                            + [("kind", pa.string()), ("arrival", pa.int64())]
                        ),
                    ),
                )
                relations.append(
                    'select transaction_id, external_subscription_id, code, "timestamp", '
                    "properties, arrival, -row_number() over () as ord from bad_rows"
                )
                for row in bad:
                    injected[row["kind"]] = injected.get(row["kind"], 0) + 1
            conn.execute(
                "create or replace temp table part_out as " + " union all ".join(relations)
            )
            conn.execute(
                "insert into resent "
                + select.format(
                    props="case copy_kind when 'conflict' then other_properties "
                    "else properties end",
                    arrival="copy_arrival",
                )
                + " from part_events where copy_kind in ('conflict', 'replay')"
            )
            stem = f"events_{month:%Y-%m}_part{p + 1:02d}"
            paths = {fmt: landing[fmt] / "events" / f"{stem}.{fmt}" for fmt in options.formats}
            _write_event_file(conn, "part_out", paths)
            for fmt, path in paths.items():
                files[fmt].append(path)
            kinds = dict(
                conn.execute(
                    "select copy_kind, count(*) from part_events group by copy_kind"
                ).fetchall()
            )
            written += conn.execute("select count(*) from part_out").fetchall()[0][0]
            injected["exact_duplicate"] += kinds.get("duplicate", 0) + kinds.get("replay", 0)
            injected["conflicting_duplicate"] += kinds.get("conflict", 0)
            if m == 0 and p == 0:
                conn.unregister("bad_rows")
        # Re-sent rows come last in load order ("resent" sorts after "part").
        stem = f"events_{month:%Y-%m}_resent"
        paths = {fmt: landing[fmt] / "events" / f"{stem}.{fmt}" for fmt in options.formats}
        _write_event_file(conn, "resent", paths)
        for fmt, path in paths.items():
            files[fmt].append(path)
        written += conn.execute("select count(*) from resent").fetchall()[0][0]
    conn.close()
    return Generated(
        root=root,
        landing=landing,
        event_files=files,
        customers=n_customers,
        subscriptions=n_subs,
        events_written=int(written),
        injected=injected,
        seconds=time.perf_counter() - started,
    )
