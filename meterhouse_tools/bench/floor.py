"""The floor: one hand-written DuckDB query over the bench's files, checked against the close."""

import time
from collections.abc import Sequence
from datetime import date
from pathlib import Path

import duckdb

from meterhouse_tools.bench.results import BenchOptions, Generated
from meterhouse_tools.bench.shared import EVENT_COLUMNS, bench_connection
from meterhouse_tools.demo_data.clock import add_months
from orchestration.sql_rows import one_row


def _catalog_metrics(catalog_dir: Path) -> list[tuple[str, str, str]]:
    """(metric_code, aggregation, field_name) of the catalog's billable metrics."""
    import csv

    with (catalog_dir / "billable_metrics.csv").open(newline="") as handle:
        return [
            (row["metric_code"], row["aggregation"], row["field_name"])
            for row in csv.DictReader(handle)
        ]


def floor_sql(
    fmt: str, files: Sequence[Path], subscriptions_csv: Path, catalog_dir: Path, months: list[str]
) -> str:
    """The floor: what billing needs from the events, in one query.

    Same rules as the loader and the close: a row needs its key, code, a parseable timestamp not
    in the future and an object as properties; the first valid row of a (subscription,
    transaction) key in load order wins (exact and conflicting duplicates drop); only known
    subscriptions and metrics count; an event counts in the month that holds it.

    Written for speed, as one would by hand: rows are narrowed to the metric's value before
    de-duplication, and duplicates are found with one aggregate per key (only repeated keys are
    then resolved), not with a window over every row.
    """
    listed = ", ".join("'" + str(f).replace("'", "''") + "'" for f in files)
    file_order = ", ".join(
        "('" + str(f).replace("'", "''") + f"', {n})" for n, f in enumerate(files)
    )
    if fmt == "parquet":
        source = f"""
            select filename, file_row_number as row_in_file, {", ".join(EVENT_COLUMNS)}
            from read_parquet([{listed}], filename = true, file_row_number = true)
        """
    else:
        # Read order numbers the rows; inside a file a key only repeats as an exact copy, so
        # which copy counts as first there does not matter.
        source = f"""
            select filename, row_number() over () as row_in_file, {", ".join(EVENT_COLUMNS)}
            from read_ndjson([{listed}], filename = true, columns = {{
                transaction_id: 'VARCHAR', external_subscription_id: 'VARCHAR',
                code: 'VARCHAR', "timestamp": 'VARCHAR', properties: 'JSON'
            }})
        """
    metrics = ", ".join(
        f"('{code}', '{aggregation}', {repr(field) if field else 'null'})"
        for code, aggregation, field in _catalog_metrics(catalog_dir)
    )
    start = f"{months[0]}-01"
    end = add_months(date.fromisoformat(f"{months[-1]}-01"), 1).isoformat()
    subs = str(subscriptions_csv).replace("'", "''")
    event_at = 'cast(try_cast(events."timestamp" as timestamptz) as timestamp)'
    return f"""
    with
    metrics (metric_code, aggregation, field_name) as (values {metrics}),
    file_order (filename, file_index) as (values {file_order}),
    subscriptions as (
        select distinct external_subscription_id
        from read_csv('{subs}', header = true, all_varchar = true)
    ),
    events as ({source}),
    valid as (
        select
            events.external_subscription_id,
            events.transaction_id,
            events.code,
            {event_at} as event_at,
            json_extract_string(events.properties, '$."' || metrics.field_name || '"')
                as value_text,
            file_order.file_index * 4294967296 + events.row_in_file as arrival
        from events
        inner join file_order on events.filename = file_order.filename
        left join metrics on events.code = metrics.metric_code
        where events.transaction_id is not null and events.external_subscription_id is not null
            and events.code is not null
            and json_valid(events.properties) and json_type(events.properties) = 'OBJECT'
            and {event_at} < now()::timestamp + interval 1 day
    ),
    repeated as (
        select external_subscription_id, transaction_id, min(arrival) as first_arrival
        from valid
        group by external_subscription_id, transaction_id
        having count(*) > 1
    ),
    kept as (
        select valid.*
        from valid
        left join repeated
            on valid.external_subscription_id = repeated.external_subscription_id
            and valid.transaction_id = repeated.transaction_id
        where repeated.first_arrival is null or valid.arrival = repeated.first_arrival
    )
    select
        kept.external_subscription_id,
        kept.code as metric_code,
        cast(date_trunc('month', kept.event_at) as date) as billing_month,
        count(*) as events_count,
        sum(try_cast(kept.value_text as decimal(38, 9))) as sum_value,
        max(try_cast(kept.value_text as decimal(38, 9))) as max_value,
        -- distinct values only where a metric counts them (a distinct aggregate is costly)
        count(distinct case when metrics.aggregation = 'unique_count' then kept.value_text end)
            as distinct_values,
        arg_max(try_cast(kept.value_text as decimal(38, 9)), kept.event_at) as latest_value
    from kept
    inner join metrics on kept.code = metrics.metric_code
    inner join subscriptions
        on kept.external_subscription_id = subscriptions.external_subscription_id
    where kept.event_at >= date '{start}' and kept.event_at < date '{end}'
    group by kept.external_subscription_id, kept.code, billing_month
    """


def measure_floor(
    options: BenchOptions, fmt: str, generated: Generated, catalog_dir: Path, output: Path
) -> tuple[float, int]:
    """Run the floor query (timed, materialized in memory); save its result to `output`."""
    conn = bench_connection(options)
    sql = floor_sql(
        fmt,
        generated.event_files[fmt],
        generated.landing[fmt] / "subscriptions" / "subscriptions.csv",
        catalog_dir,
        options.month_keys,
    )
    started = time.perf_counter()
    conn.execute(f"create table floor_aggregates as {sql}")
    seconds = time.perf_counter() - started
    rows = conn.execute("select count(*) from floor_aggregates").fetchall()[0][0]
    target = str(output).replace("'", "''")
    conn.execute(f"copy floor_aggregates to '{target}' (format parquet)")
    conn.close()
    return seconds, int(rows)


def compare_floor_to_close(warehouse: Path, floor_parquet: Path) -> dict[str, int]:
    """Rows where the floor's aggregates differ from what the warehouse billed.

    Billed = the charge lines of fct_invoice_lines summed over filters and pricing groups, per
    subscription, metric and close month. Compared: the event count of every metric, and the
    units of every metric without rounding (count, sum, max, latest, unique_count).
    """
    floor = str(floor_parquet).replace("'", "''")
    with duckdb.connect(str(warehouse), read_only=True) as conn:
        row = one_row(
            conn.execute(
                f"""
            with
            metrics as (
                select metric_code, aggregation, rounding_function
                from staging.stg_catalog__billable_metrics
            ),
            billed as (
                select
                    lines.external_subscription_id,
                    lines.metric_code,
                    lines.billing_month,
                    sum(lines.events_count) as events_count,
                    sum(lines.units) as units
                from billing.fct_invoice_lines as lines
                where lines.line_type = 'charge'
                group by all
                -- a tier's flat fee is billed without events; the floor has nothing to match
                having sum(lines.events_count) > 0
            ),
            expected as (
                select
                    floor.*,
                    metrics.aggregation,
                    metrics.rounding_function,
                    case metrics.aggregation
                        when 'count' then floor.events_count
                        when 'sum' then floor.sum_value
                        when 'max' then floor.max_value
                        when 'latest' then greatest(floor.latest_value, 0)
                        when 'unique_count' then floor.distinct_values
                    end as units
                from read_parquet('{floor}') as floor
                inner join metrics using (metric_code)
            ),
            compared as (
                select
                    expected.events_count is distinct from billed.events_count as count_differs,
                    expected.rounding_function is null
                        and expected.units is distinct from billed.units as units_differ,
                    expected.external_subscription_id is null as only_billed,
                    billed.external_subscription_id is null as only_floor
                from expected
                full outer join billed
                    on expected.external_subscription_id = billed.external_subscription_id
                    and expected.metric_code = billed.metric_code
                    and expected.billing_month = billed.billing_month
            )
            select
                count(*),
                count(*) filter (where count_differs),
                count(*) filter (where units_differ),
                count(*) filter (where only_billed),
                count(*) filter (where only_floor)
            from compared
            """
            )
        )
    names = ("rows", "event_counts_differ", "units_differ", "only_billed", "only_floor")
    return dict(zip(names, (int(v) for v in row), strict=True))
