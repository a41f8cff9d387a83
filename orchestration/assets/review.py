"""The month's review: what a close or a finalization produced, for finance to read in the UI.

Each close and each finalization records one materialization of `review/month_review` per month
it covered, on that month's partition: the review as Markdown (no SQL needed to read it), and
its figures as numeric metadata that Dagster plots across months. Everything is read from the
`billing` marts, so the review says what the Parquet marts and the PDFs say.
"""

from collections import defaultdict
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, timedelta
from decimal import Decimal

import dagster as dg
import duckdb
from dagster_duckdb import DuckDBResource

from orchestration.assets.dbt_models import dbt_asset_key
from orchestration.partitions import monthly_partitions
from orchestration.sql_rows import one_row

REVIEW_KEY = dg.AssetKey(["review", "month_review"])
STATUS_TAG = "meterhouse/month_status"
TOP_CUSTOMERS = 10
EXAMPLES_PER_REASON = 3


@dataclass(slots=True)
class MonthReview:
    """The figures of one month's review; `markdown` renders them."""

    month: str
    status: str  # draft or finalized
    invoices: list[tuple] = field(default_factory=list)  # type, status, currency, count, total
    credit_notes: list[tuple] = field(default_factory=list)  # currency, count, total
    wallet_movements: list[tuple] = field(default_factory=list)  # type, currency, count, amount
    subscriptions: dict[str, int] = field(default_factory=dict)  # new, changed, ended
    totals: dict[str, Decimal] = field(default_factory=dict)  # currency -> billed this month
    previous_totals: dict[str, Decimal] = field(default_factory=dict)
    top_changes: list[tuple] = field(default_factory=list)  # customer, currency, before, now
    # Rows loaded by the month's own close run(s): kind, reason, count (and a few examples).
    rejected: list[tuple] = field(default_factory=list)
    rejected_all_time: int = 0  # every rejected row of every load so far
    rejected_examples: dict[tuple[str, str], list[tuple]] = field(default_factory=dict)
    restatements: list[tuple] = field(default_factory=list)  # currency, count, outstanding
    exponents: dict[str, int] = field(default_factory=dict)

    @property
    def invoice_count(self) -> int:
        return sum(row[3] for row in self.invoices)

    @property
    def rejected_rows(self) -> int:
        return sum(row[2] for row in self.rejected)

    def metadata(self) -> dict[str, dg.MetadataValue]:
        """Numbers Dagster plots across partitions, and the review itself."""
        values: dict[str, dg.MetadataValue] = {
            "status": dg.MetadataValue.text(self.status),
            "invoice_count": dg.MetadataValue.int(self.invoice_count),
            "rejected_rows": dg.MetadataValue.int(self.rejected_rows),
            "rejected_rows_all_time": dg.MetadataValue.int(self.rejected_all_time),
            "restatements_pending": dg.MetadataValue.int(sum(r[1] for r in self.restatements)),
            "review": dg.MetadataValue.md(self.markdown()),
        }
        # Plotted as exact integers in the currency's minor unit (cents; yen for JPY), never as
        # floats; the exact amount as text beside it.
        for currency, total in sorted(self.totals.items()):
            exponent = self.exponents.get(currency, 2)
            minor = int((total * (Decimal(10) ** exponent)).to_integral_value())
            values[f"total_billed_{currency}_minor_units"] = dg.MetadataValue.int(minor)
            values[f"total_billed_{currency}"] = dg.MetadataValue.text(str(total))
        return values

    def markdown(self) -> str:
        lines = [f"# Billing month {self.month}: {self.status}", ""]
        lines += ["## Invoices", ""]
        if self.invoices:
            lines += ["| type | status | currency | invoices | total |", "|---|---|---|---:|---:|"]
            lines += [f"| {t} | {s} | {c} | {n} | {total} |" for t, s, c, n, total in self.invoices]
        else:
            lines.append("No invoice was issued for this month.")
        lines += ["", "## Credit notes and wallets", ""]
        if self.credit_notes:
            lines += ["| currency | credit notes | total |", "|---|---:|---:|"]
            lines += [f"| {c} | {n} | {total} |" for c, n, total in self.credit_notes]
        else:
            lines.append("No credit note this month.")
        lines.append("")
        if self.wallet_movements:
            lines += ["| wallet movement | currency | count | amount |", "|---|---|---:|---:|"]
            lines += [f"| {t} | {c} | {n} | {a} |" for t, c, n, a in self.wallet_movements]
        else:
            lines.append("No wallet movement this month.")
        subs = self.subscriptions
        lines += [
            "",
            "## Subscriptions",
            "",
            f"{subs.get('new', 0)} new, {subs.get('changed', 0)} changed, "
            f"{subs.get('ended', 0)} ended this month.",
            "",
            "## Change against the previous month",
            "",
            "| currency | previous month | this month | change |",
            "|---|---:|---:|---:|",
        ]
        for currency in sorted(set(self.totals) | set(self.previous_totals)):
            before = self.previous_totals.get(currency, Decimal(0))
            now = self.totals.get(currency, Decimal(0))
            lines.append(f"| {currency} | {before} | {now} | {now - before:+} |")
        if self.top_changes:
            lines += [
                "",
                f"Customers whose totals changed most (up to {TOP_CUSTOMERS}):",
                "",
                "| customer | currency | previous month | this month | change |",
                "|---|---|---:|---:|---:|",
            ]
            lines += [
                f"| {customer} | {currency} | {before} | {now} | {now - before:+} |"
                for customer, currency, before, now in self.top_changes
            ]
        lines += ["", "## Rejected inputs", ""]
        if self.rejected:
            lines += [
                f"{self.rejected_rows} input row(s) loaded by this month's close could not be "
                f"billed ({self.rejected_all_time} in all loads so far):",
                "",
                "| input | reason | rows | examples |",
                "|---|---|---:|---|",
            ]
            for kind, reason, count in self.rejected:
                examples = "; ".join(
                    f"{source_file}" + (f" line {line}" if line is not None else "") + f": {detail}"
                    for source_file, line, detail in self.rejected_examples.get((kind, reason), [])
                )
                lines.append(f"| {kind} | {reason} | {count} | {examples.replace('|', '/')} |")
            lines += [
                "",
                "List them with `meterhouse rejects` (add `--reason REASON` or `--kind INPUT`), "
                "or read `rejected_inputs.parquet` in the marts folder.",
            ]
        else:
            lines.append(
                "No input row loaded by this month's close was rejected "
                f"({self.rejected_all_time} in all loads so far)."
            )
        lines += ["", "## Restatements pending", ""]
        if self.restatements:
            lines += ["| currency | lines | outstanding |", "|---|---:|---:|"]
            lines += [f"| {c} | {n} | {amount} |" for c, n, amount in self.restatements]
        else:
            lines.append("None: every finalized invoice still matches its events.")
        return "\n".join(lines) + "\n"


def _table_exists(conn: duckdb.DuckDBPyConnection, schema: str, table: str) -> bool:
    return bool(
        one_row(
            conn.execute(
                "select count(*) from information_schema.tables "
                "where table_schema = ? and table_name = ?",
                [schema, table],
            )
        )[0]
    )


def close_load_windows(
    conn: duckdb.DuckDBPyConnection, month: str, instance: dg.DagsterInstance
) -> list[tuple[datetime, datetime]]:
    """When the month's close run(s) loaded inputs: from each run's start to the time it recorded
    the month closed (raw.closed_months). A run the Dagster instance does not know starts after
    the close before it. A run that had no landing step loaded nothing in its window."""
    if not _table_exists(conn, "raw", "closed_months"):
        return []
    closes = conn.execute(
        """
        with runs as (
            select run_id, max(closed_at) as closed_at
            from raw.closed_months
            group by run_id
        )
        select
            run_id,
            closed_at,
            lag(closed_at) over (order by closed_at) as previous_closed_at,
            run_id in (
                select run_id from raw.closed_months where billing_month = cast(? as date)
            ) as closes_month
        from runs
        order by closed_at
        """,
        [f"{month}-01"],
    ).fetchall()
    windows = []
    for run_id, closed_at, previous_closed_at, closes_month in closes:
        if not closes_month:
            continue
        record = instance.get_run_record_by_id(run_id)
        if record is not None and record.start_time is not None:
            start = datetime.fromtimestamp(int(record.start_time), UTC).replace(tzinfo=None)
        elif previous_closed_at is not None:
            start = previous_closed_at + timedelta(seconds=1)
        else:
            start = datetime.min
        windows.append((start, closed_at))
    return windows


def build_review(
    conn: duckdb.DuckDBPyConnection,
    month: str,
    load_windows: list[tuple[datetime, datetime]] | None = None,
) -> MonthReview:
    """Read the review of `month` (YYYY-MM) from the billing marts; rejected inputs are those
    loaded within `load_windows` (the month's close runs, `close_load_windows`)."""
    first_day = date.fromisoformat(f"{month}-01")
    previous_day = date(first_day.year - (first_day.month == 1), (first_day.month - 2) % 12 + 1, 1)
    finalized = (
        _table_exists(conn, "raw", "finalizations")
        and one_row(
            conn.execute(
                "select count(*) from raw.finalizations where billing_month = ?", [first_day]
            )
        )[0]
    )
    review = MonthReview(month=month, status="finalized" if finalized else "draft")
    review.invoices = conn.execute(
        "select invoice_type, status, currency, count(*), sum(total_amount) "
        "from billing.fct_invoices where billing_month = ? "
        "group by invoice_type, status, currency order by invoice_type, status, currency",
        [first_day],
    ).fetchall()
    review.credit_notes = conn.execute(
        "select currency, count(*), sum(total_amount) from billing.fct_credit_notes "
        "where billing_month = ? group by currency order by currency",
        [first_day],
    ).fetchall()
    review.wallet_movements = conn.execute(
        "select transaction_type, currency, count(*), sum(amount) "
        "from billing.fct_wallet_transactions where billing_month = ? "
        "group by transaction_type, currency order by transaction_type, currency",
        [first_day],
    ).fetchall()
    review.subscriptions = _subscription_changes(conn, first_day)
    for currency, total in conn.execute(
        "select currency, sum(total_amount) from billing.fct_invoices "
        "where billing_month = ? and status <> 'voided' group by currency",
        [first_day],
    ).fetchall():
        review.totals[currency] = total
    for currency, total in conn.execute(
        "select currency, sum(total_amount) from billing.fct_invoices "
        "where billing_month = ? and status <> 'voided' group by currency",
        [previous_day],
    ).fetchall():
        review.previous_totals[currency] = total
    review.top_changes = conn.execute(
        """
        with per_customer as (
            select
                external_customer_id,
                currency,
                sum(case when billing_month = ? then total_amount else 0 end) as previous_total,
                sum(case when billing_month = ? then total_amount else 0 end) as month_total
            from billing.fct_invoices
            where billing_month in (?, ?) and status <> 'voided'
            group by external_customer_id, currency
        )
        select external_customer_id, currency, previous_total, month_total
        from per_customer
        where month_total <> previous_total
        order by abs(month_total - previous_total) desc, external_customer_id, currency
        limit ?
        """,
        [previous_day, first_day, previous_day, first_day, TOP_CUSTOMERS],
    ).fetchall()
    conn.execute(
        "create or replace temp table review_load_windows "
        "(started_at timestamp, ended_at timestamp)"
    )
    if load_windows:
        conn.executemany("insert into review_load_windows values (?, ?)", load_windows)
    loaded_by_close = (
        "exists (select 1 from review_load_windows as w "
        "where r.loaded_at between w.started_at and w.ended_at)"
    )
    review.rejected_all_time = one_row(
        conn.execute("select count(*) from billing.rejected_inputs")
    )[0]
    review.rejected = conn.execute(
        "select input_kind, reason, count(*) from billing.rejected_inputs as r "
        f"where {loaded_by_close} group by input_kind, reason order by input_kind, reason"
    ).fetchall()
    examples: dict[tuple[str, str], list[tuple]] = defaultdict(list)
    for kind, reason, source_file, line, detail in conn.execute(
        f"""
        select input_kind, reason, source_file, line_number, detail
        from billing.rejected_inputs as r
        where {loaded_by_close}
        qualify row_number() over (
            partition by input_kind, reason order by source_file, line_number
        ) <= ?
        order by input_kind, reason, source_file, line_number
        """,
        [EXAMPLES_PER_REASON],
    ).fetchall():
        examples[(kind, reason)].append((source_file, line, detail))
    review.rejected_examples = dict(examples)
    review.restatements = conn.execute(
        "select currency, count(*), sum(outstanding_amount) "
        "from billing.fct_invoice_restatements where settlement_status = 'pending' "
        "group by currency order by currency"
    ).fetchall()
    review.exponents = dict(
        conn.execute(
            "select currency, cast(exponent as integer) from reference.currencies"
        ).fetchall()
    )
    return review


def _subscription_changes(conn: duckdb.DuckDBPyConnection, first_day: date) -> dict[str, int]:
    """Subscriptions started, changed (a new version, not a start) and ended within the month."""
    row = one_row(
        conn.execute(
            """
        with versions as (
            select
                external_subscription_id,
                started_at,
                terminated_at,
                updated_at,
                min(updated_at) over (partition by external_subscription_id) as first_updated_at
            from raw.subscriptions
        ),

        month_bounds as (
            select cast(? as timestamp) as month_start,
                cast(? as timestamp) + interval 1 month as month_end
        )

        select
            count(distinct case when started_at >= month_start and started_at < month_end
                then external_subscription_id end) as new_subscriptions,
            count(distinct case when updated_at > first_updated_at
                and updated_at >= month_start and updated_at < month_end
                and not (started_at >= month_start and started_at < month_end)
                then external_subscription_id end) as changed_subscriptions,
            count(distinct case when terminated_at >= month_start and terminated_at < month_end
                then external_subscription_id end) as ended_subscriptions
        from versions
        cross join month_bounds
        """,
            [first_day, first_day],
        )
    )
    return {"new": row[0], "changed": row[1], "ended": row[2]}


REVIEWED_MARTS = (
    "fct_invoices",
    "fct_credit_notes",
    "fct_wallet_transactions",
    "fct_invoice_restatements",
    "rejected_inputs",
)


@dg.asset(
    key=REVIEW_KEY,
    deps=[dbt_asset_key(name) for name in REVIEWED_MARTS],
    group_name="review",
    partitions_def=monthly_partitions,
    backfill_policy=dg.BackfillPolicy.single_run(),
    pool="duckdb_writer",
    output_required=False,  # one materialization per month, each with its own review
    kinds={"markdown"},
)
def month_review(context: dg.AssetExecutionContext, warehouse: DuckDBResource):
    """The month's review for finance: invoices, credit notes, wallets, subscriptions, change
    against the previous month, rejected inputs and pending restatements."""
    with warehouse.get_connection() as conn:
        reviews = [
            build_review(conn, key, close_load_windows(conn, key, context.instance))
            for key in context.partition_keys
        ]
    for review in reviews:
        yield dg.AssetMaterialization(
            asset_key=REVIEW_KEY,
            partition=review.month,
            description=f"{review.month}: {review.status}",
            metadata=review.metadata(),
            tags={STATUS_TAG: review.status},
        )
