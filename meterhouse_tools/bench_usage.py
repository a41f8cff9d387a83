"""`meterhouse bench --usage` (README, "Current usage"): a usage refresh on the bench's data set,
beside a hand-written DuckDB query of the same period-to-date amounts.

1. **Generate** the bench's customers, subscriptions and events (`bench.generate`, Parquet) and
   **load** them with the real loader (timed as in the close bench).
2. **Floor**: one DuckDB query, written by hand for the bench catalog, over the events loaded:
   for each subscription, the period that holds the instant (the latest event), and per charge,
   filter and pricing group the units, events and amount to date. It reads what a refresh reads
   (`raw.events`, the catalog, the landed subscriptions and customers) and prices the charge
   models the bench catalog uses (standard, package, graduated, volume).
3. **Refresh** (`runs.refresh_usage`, nothing left to load): timed, and compared with the floor
   bucket by bucket (units, events, exact amount).
4. **A refresh with nothing new**: timed (no dbt run; orchestration/assets/usage.py).
5. **A landing file arrives** (1,000 events of the period): the refresh that publishes them,
   timed. The sensor looks every `SENSOR_INTERVAL_SECONDS`, so a file is published at most that
   plus this refresh after it lands.
"""

import csv
import os
import time
from contextlib import redirect_stderr, redirect_stdout
from pathlib import Path

import duckdb
import pyarrow as pa
import pyarrow.parquet

from meterhouse_tools.bench.generation import generate
from meterhouse_tools.bench.product import dbt_timings, measure_load, point_at
from meterhouse_tools.bench.results import BenchOptions, BenchResult, Figure
from meterhouse_tools.bench.run import new_result
from orchestration.settings import REPO_ROOT
from orchestration.sql_rows import one_row

TARGET_REFRESH_OVER_FLOOR = 2.0
TARGET_UNCHANGED_SECONDS = 3.0  # plus the command's start-up
SENSOR_INTERVAL_SECONDS = 30  # usage_refresh_on_landing's minimum_interval_seconds
ARRIVING_EVENTS = 1_000


def _csv_rows(path: Path) -> list[dict]:
    with path.open(newline="") as handle:
        return list(csv.DictReader(handle))


def _quoted(path: Path) -> str:
    return "'" + str(path).replace("'", "''") + "'"


def usage_floor_sql(catalog: Path, landing: Path) -> str:
    """The floor query. Written for the shapes the bench catalog has; any other shape (a plan
    billing yearly charges yearly, anniversary billing, several filters on a charge, a filter on
    several keys, a pricing group of several keys, another charge model) is refused, never
    priced approximately."""
    plans = _csv_rows(catalog / "plans.csv")
    if any(p["interval"] != "monthly" and p["bill_charges_monthly"] != "true" for p in plans):
        raise ValueError("the usage floor prices monthly charge periods only")
    if any(
        m["rounding_precision"] not in ("", "0")
        for m in _csv_rows(catalog / "billable_metrics.csv")
    ):
        raise ValueError("the usage floor rounds units to integers only")
    charges = _csv_rows(catalog / "charges.csv")
    models = {c["charge_model"] for c in charges}
    if not models <= {"standard", "package", "graduated", "volume"}:
        raise ValueError(f"the usage floor does not price {sorted(models)}")
    if any("," in c["pricing_group_keys"] for c in charges):
        raise ValueError("the usage floor groups by one key at most")
    filters = _csv_rows(catalog / "charge_filters.csv")
    if len({f["charge_code"] for f in filters}) != len(filters) or any(
        "," in f["conditions"] or "=" not in f["conditions"] for f in filters
    ):
        raise ValueError("the usage floor takes one filter of one key per charge")
    if any(
        row["billing_time"] != "calendar"
        for path in (landing / "subscriptions").glob("*.csv")
        for row in _csv_rows(path)
    ):
        raise ValueError("the usage floor prices calendar billing only")
    subscriptions = landing / "subscriptions" / "*.csv"
    customers = landing / "customers" / "*.csv"

    def table(name: str) -> str:
        return f"read_csv({_quoted(catalog / name)}, header = true, all_varchar = true)"

    return f"""
    with
    metrics as (select * from {table("billable_metrics.csv")}),
    charges as (
        select
            *,
            cast(coalesce(nullif(free_units, ''), '0') as decimal(38, 9)) as free_units_value
        from {table("charges.csv")}
    ),
    charge_filters as (
        select
            charge_code, filter_code, amount,
            split_part(conditions, '=', 1) as filter_key,
            string_split(split_part(conditions, '=', 2), '|') as filter_values
        from {table("charge_filters.csv")}
    ),
    tiers as (
        select
            charge_code,
            cast(from_value as decimal(38, 9)) as from_value,
            cast(nullif(to_value, '') as decimal(38, 9)) as to_value,
            cast(per_unit_amount as decimal(38, 9)) as per_unit_amount,
            cast(flat_amount as decimal(38, 9)) as flat_amount,
            row_number() over (partition by charge_code order by cast(from_value as decimal(38, 9)))
                as tier_rank,
            lag(cast(nullif(to_value, '') as decimal(38, 9))) over (
                partition by charge_code order by cast(from_value as decimal(38, 9))
            ) as previous_to_value
        from {table("charge_tiers.csv")}
    ),
    -- A tier set joined end to start throughout counts a tier from its from_value; any other set
    -- uses the inclusive convention (a tier starts one unit after the previous one ends).
    tier_bounds as (
        select
            tiers.*,
            case
                when tier_rank = 1 then 0
                when bool_and(tier_rank = 1 or from_value = previous_to_value)
                    over (partition by charge_code) then from_value
                else from_value - 1
            end as lower_bound
        from tiers
    ),
    customers as (
        select external_customer_id, arg_max(timezone, updated_at) as timezone
        from read_csv({_quoted(customers)}, header = true, all_varchar = true)
        group by external_customer_id
    ),
    subscriptions as (
        select
            external_subscription_id,
            arg_max(external_customer_id, updated_at) as external_customer_id,
            arg_max(plan_code, updated_at) as plan_code,
            arg_max(cast(started_at as timestamptz), updated_at) as started_at
        from read_csv({_quoted(subscriptions)}, header = true, all_varchar = true)
        group by external_subscription_id
    ),
    instant as (select cast(max(event_timestamp) as timestamptz) as as_of from raw.events),
    -- The calendar month of the instant in the customer's zone, from the subscription's start.
    windows as (
        select
            subscriptions.external_subscription_id,
            subscriptions.plan_code,
            cast(greatest(
                subscriptions.started_at,
                timezone(
                    customers.timezone,
                    date_trunc('month', timezone(customers.timezone, instant.as_of))
                )
            ) as timestamp) as charges_from,
            cast(instant.as_of as timestamp) as as_of
        from subscriptions
        inner join customers using (external_customer_id)
        cross join instant
        where subscriptions.started_at <= instant.as_of
    ),
    events as (
        select
            windows.external_subscription_id,
            charges.charge_code,
            metrics.aggregation,
            metrics.rounding_function,
            metrics.rounding_precision,
            coalesce(charge_filters.filter_code, '') as filter_code,
            case when charges.pricing_group_keys <> '' then
                '{{"' || charges.pricing_group_keys || '":"'
                || json_extract_string(
                    raw.events.properties, '$."' || charges.pricing_group_keys || '"'
                )
                || '"}}'
            end as pricing_group,
            raw.events.event_timestamp,
            json_extract_string(raw.events.properties, '$."' || metrics.field_name || '"')
                as value_text
        from raw.events
        inner join windows
            on raw.events.external_subscription_id = windows.external_subscription_id
            and raw.events.event_timestamp >= windows.charges_from
            and raw.events.event_timestamp <= windows.as_of
        inner join charges
            on windows.plan_code = charges.plan_code and raw.events.code = charges.metric_code
        inner join metrics on raw.events.code = metrics.metric_code
        left join charge_filters
            on charges.charge_code = charge_filters.charge_code
            and list_contains(
                charge_filters.filter_values,
                json_extract_string(
                    raw.events.properties, '$."' || charge_filters.filter_key || '"'
                )
            )
    ),
    aggregated as (
        select
            external_subscription_id, charge_code, filter_code, pricing_group,
            any_value(aggregation) as aggregation,
            any_value(rounding_function) as rounding_function,
            cast(nullif(any_value(rounding_precision), '') as integer) as rounding_precision,
            count(*) as events_count,
            sum(try_cast(value_text as decimal(38, 9))) as sum_value,
            max(try_cast(value_text as decimal(38, 9))) as max_value,
            arg_max(try_cast(value_text as decimal(38, 9)), event_timestamp) as latest_value,
            count(distinct case when aggregation = 'unique_count' then value_text end)
                as distinct_values
        from events
        group by external_subscription_id, charge_code, filter_code, pricing_group
    ),
    measured as (
        select
            *,
            case aggregation
                when 'count' then cast(events_count as decimal(38, 9))
                when 'sum' then sum_value
                when 'max' then max_value
                when 'latest' then latest_value
                when 'unique_count' then cast(distinct_values as decimal(38, 9))
            end as raw_units
        from aggregated
    ),
    units as (
        select
            *,
            -- Each branch cast: a CASE would give every branch the scale of ceil's result (0).
            case rounding_function
                when 'ceil' then cast(ceil(raw_units) as decimal(38, 9))
                when 'floor' then cast(floor(raw_units) as decimal(38, 9))
                when 'round' then cast(round(raw_units, 0) as decimal(38, 9))
                else cast(raw_units as decimal(38, 9))
            end as units
        from measured
    ),
    graduated as (
        select
            units.external_subscription_id, units.charge_code, units.filter_code,
            units.pricing_group,
            sum(
                greatest(
                    least(units.units, coalesce(tier_bounds.to_value, units.units))
                        - tier_bounds.lower_bound,
                    0
                ) * tier_bounds.per_unit_amount
                + case when tier_bounds.tier_rank = 1 or units.units > tier_bounds.lower_bound
                    then tier_bounds.flat_amount else 0 end
            ) as amount
        from units
        inner join charges using (charge_code)
        inner join tier_bounds using (charge_code)
        where charges.charge_model = 'graduated'
        group by all
    ),
    volume as (
        select
            units.external_subscription_id, units.charge_code, units.filter_code,
            units.pricing_group,
            units.units * tier_bounds.per_unit_amount + tier_bounds.flat_amount as amount
        from units
        inner join charges using (charge_code)
        inner join tier_bounds using (charge_code)
        where charges.charge_model = 'volume'
            and (units.units > tier_bounds.lower_bound or tier_bounds.tier_rank = 1)
            and (tier_bounds.to_value is null or units.units <= tier_bounds.to_value)
    )
    select
        units.external_subscription_id, units.charge_code, units.filter_code, units.pricing_group,
        units.units, units.events_count,
        cast(case charges.charge_model
            when 'standard' then units.units * cast(
                coalesce(nullif(charge_filters.amount, ''), charges.amount) as decimal(38, 9)
            )
            when 'package' then case
                when units.units <= charges.free_units_value then 0
                else ceil(
                    (units.units - charges.free_units_value)
                    / cast(charges.package_size as decimal(38, 9))
                ) * cast(charges.amount as decimal(38, 9))
            end
            when 'graduated' then graduated.amount
            when 'volume' then volume.amount
        end as decimal(38, 9)) as amount
    from units
    inner join charges using (charge_code)
    left join charge_filters using (charge_code, filter_code)
    left join graduated using (external_subscription_id, charge_code, filter_code, pricing_group)
    left join volume using (external_subscription_id, charge_code, filter_code, pricing_group)
    """


def measure_usage_floor(warehouse: Path, catalog: Path, landing: Path, threads: int) -> float:
    """Run the floor over the warehouse's events (timed); keep it in `bench.usage_floor`."""
    with duckdb.connect(str(warehouse)) as conn:
        conn.execute("set TimeZone = 'UTC'")
        conn.execute(f"set threads = {threads}")
        conn.execute("create schema if not exists bench")
        sql = usage_floor_sql(catalog, landing)
        started = time.perf_counter()
        conn.execute(f"create or replace table bench.usage_floor as {sql}")
        return time.perf_counter() - started


def compare_floor_to_usage(warehouse: Path) -> dict[str, int]:
    """Buckets with events in either, the floor's against billing.fct_usage_current: how many
    differ in units, in events and in exact amount, and how many only one side has."""
    with duckdb.connect(str(warehouse)) as conn:
        row = one_row(
            conn.execute(
                """
            with product as (
                select external_subscription_id, charge_code, filter_code, pricing_group, units,
                       events_count, precise_amount as amount
                from billing.fct_usage_current where events_count > 0
            )
            select
                count(*),
                count(*) filter (where product.units is null or floor.units is null),
                count(*) filter (where product.units <> floor.units),
                count(*) filter (where product.events_count <> floor.events_count),
                count(*) filter (where product.amount <> floor.amount)
            from product
            full outer join bench.usage_floor as floor
                on product.external_subscription_id = floor.external_subscription_id
                and product.charge_code = floor.charge_code
                and product.filter_code = floor.filter_code
                and product.pricing_group is not distinct from floor.pricing_group
            """
            )
        )
    keys = ("buckets", "one_side_only", "units", "events", "amount")
    return dict(zip(keys, row, strict=True))


def _arriving_events(landing: Path, as_of: str, count: int) -> Path:
    """`count` api_calls events just before the instant, spread over the first subscriptions."""
    subscriptions = [
        row["external_subscription_id"]
        for row in _csv_rows(next((landing / "subscriptions").glob("*.csv")))
    ]
    with duckdb.connect() as conn:
        instant = one_row(conn.execute("select cast(? as timestamp)", [as_of]))[0]
    stamp = instant.isoformat(timespec="milliseconds") + "Z"
    table = pa.table(
        {
            "transaction_id": [f"bench_arrival_{n}" for n in range(count)],
            "external_subscription_id": [
                subscriptions[n % len(subscriptions)] for n in range(count)
            ],
            "code": ["api_calls"] * count,
            "timestamp": [stamp] * count,
            "properties": ['{"region":"us"}'] * count,
        }
    )
    path = landing / "events" / "bench_arrival.parquet"
    pyarrow.parquet.write_table(table, path)
    return path


def run_usage_bench(options: BenchOptions, root: Path) -> BenchResult:
    """Steps 1-5 of the module docstring, in `root` (the bench's environment is set)."""
    from orchestration import runs
    from orchestration.project import ensure_manifest

    ensure_manifest()
    catalog = REPO_ROOT / "seeds" / "catalog"
    generated = generate(options, root)
    result = new_result(options, root, generated)
    landing = generated.landing["parquet"]
    warehouse = root / "warehouse_usage.duckdb"
    point_at(landing, warehouse, root / "output_usage")
    load = measure_load(options, landing, warehouse)
    result.details["load_usage"] = load
    result.figures.append(
        Figure(
            "load parquet (validate + dedup)",
            generated.events_written / load["seconds"],
            "events/s",
        )
    )
    log = (root / "product.log").open("a", encoding="utf-8")
    with redirect_stdout(log), redirect_stderr(log):
        started = time.perf_counter()
        figures = runs.refresh_usage()
        refresh_seconds = time.perf_counter() - started
    floor_seconds = measure_usage_floor(warehouse, catalog, landing, options.threads)
    result.figures.append(
        Figure("usage floor (DuckDB, one query)", floor_seconds, "s", ratio_to_floor=1.0)
    )
    result.details["usage_refresh_dbt"] = dbt_timings()
    result.figures.append(
        Figure(
            "usage refresh (runs.refresh_usage, load excluded)",
            refresh_seconds,
            "s",
            target=f"<= {TARGET_REFRESH_OVER_FLOOR:g}x floor",
            ratio_to_floor=refresh_seconds / floor_seconds,
            passed=refresh_seconds <= TARGET_REFRESH_OVER_FLOOR * floor_seconds,
        )
    )
    comparison = compare_floor_to_usage(warehouse)
    result.details["usage_floor_vs_refresh"] = comparison
    mismatches = sum(v for k, v in comparison.items() if k != "buckets")
    result.figures.append(
        Figure(
            "floor == current usage (mismatched buckets)",
            mismatches,
            "buckets",
            target="0",
            passed=mismatches == 0,
        )
    )
    with redirect_stdout(log), redirect_stderr(log):
        started = time.perf_counter()
        unchanged = runs.refresh_usage()
        unchanged_seconds = time.perf_counter() - started
    result.figures.append(
        Figure(
            "usage refresh, nothing new (in process)",
            unchanged_seconds,
            "s",
            target=f"< {TARGET_UNCHANGED_SECONDS:g} s + start-up",
            passed=unchanged["unchanged"] and unchanged_seconds < TARGET_UNCHANGED_SECONDS,
        )
    )
    _arriving_events(landing, figures["as_of"], ARRIVING_EVENTS)
    with redirect_stdout(log), redirect_stderr(log):
        started = time.perf_counter()
        arrived = runs.refresh_usage()
        arrival_seconds = time.perf_counter() - started
    log.close()
    result.details["arrival_events"] = arrived["events"] - figures["events"]
    result.figures.append(
        Figure(f"usage refresh after a file of {ARRIVING_EVENTS:,} events", arrival_seconds, "s")
    )
    result.figures.append(
        Figure(
            f"landing file to published usage (sensor every {SENSOR_INTERVAL_SECONDS} s)",
            SENSOR_INTERVAL_SECONDS + arrival_seconds,
            "s (at most)",
        )
    )
    result.machine["load_average_after"] = os.getloadavg()
    return result
