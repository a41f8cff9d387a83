"""Invoice preview (docs/preview.md): the invoice each subscription's current period would produce
if it ended now, computed by the close itself on a scratch copy of the warehouse.

There is one pricing engine. A preview never computes an invoice of its own: it copies the
warehouse, closes in the copy every month up to the one that holds the end of the current periods
(the same dbt models, window and backfill as `meterhouse close`, events after the instant left
out), and copies the drafted invoices it wants into the `billing.fct_invoice_preview*` tables of
the real warehouse in one short write. Drafts, finalized invoices, numbers, coupon and wallet
balances of the real warehouse are never written; the copy is deleted.
"""

import fcntl
import os
import shutil
import time
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import UTC, date, datetime, timedelta
from pathlib import Path

import duckdb

from orchestration import console, runs
from orchestration.dbt_in_process import run_dbt, vars_args
from orchestration.partitions import close_window_vars
from orchestration.project import dbt_project, restore_partial_parse, save_partial_parse
from orchestration.runs import RunError
from orchestration.settings import current_locations, restored_environment
from orchestration.sql_rows import one_row

# Preview table -> the close's mart it holds rows of (same columns; previews add two).
PREVIEW_TABLES = {
    "fct_invoice_previews": "fct_invoices",
    "fct_invoice_preview_lines": "fct_invoice_lines",
    "fct_invoice_preview_taxes": "fct_invoice_taxes",
    "fct_invoice_preview_credits": "fct_invoice_credits",
}

# The close's dbt models that the four marts above read, and nothing else: the invoice part of a
# close (`billing_dbt_models` builds these and more). `run`, not `build`: the close's data tests
# guard what is written for good; a preview's copy is thrown away (docs/preview.md).
PREVIEW_DBT_ARGS = [
    "run",
    "--select",
    " ".join(f"+{mart}" for mart in PREVIEW_TABLES.values()),
    "--exclude",
    "tag:usage",
    "--log-level-file",
    "none",
]
INVOCATION_PREFIX = "invoice_preview"

INTERVAL_MONTHS = {"monthly": 1, "quarterly": 3, "semiannual": 6, "yearly": 12}


def scratch_warehouse(warehouse: Path) -> Path:
    """Where a preview copies `warehouse`: a hidden folder beside it, the file's own name
    (dbt-duckdb names the database after the file's stem; dbt's partial parse is kept per path)."""
    return warehouse.parent / f".{warehouse.stem}.preview" / warehouse.name


@contextmanager
def _preview_lock(warehouse: Path, wait: bool) -> Iterator[None]:
    """One preview at a time per warehouse: they share its scratch copy."""
    path = warehouse.with_name(f"{warehouse.name}.preview.lock")
    fd = os.open(path, os.O_RDWR | os.O_CREAT, 0o644)
    try:
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | (0 if wait else fcntl.LOCK_NB))
        except BlockingIOError:
            raise RunError(
                f"another invoice preview is running on {warehouse}; wait for it to end, or "
                "pass --wait"
            ) from None
        yield
    finally:
        os.close(fd)


def preview_invoices(customer: str | None, as_of: str | None, *, wait: bool = False) -> dict:
    """Preview the invoices of the current periods at `as_of` (default: the latest event loaded)
    for `customer` (default: every customer); return the preview's figures."""
    locations = current_locations()
    warehouse = locations.warehouse.resolve()
    scratch = scratch_warehouse(warehouse)
    started = time.perf_counter()
    warehouse.parent.mkdir(parents=True, exist_ok=True)
    with _preview_lock(warehouse, wait):
        shutil.rmtree(scratch.parent, ignore_errors=True)  # what a killed preview left
        # Under the one-writer lock of closes: load what landed (as a close or a usage refresh
        # would), then copy a warehouse no run is writing.
        with runs.warehouse_lock(warehouse, wait=wait, note="preview"):
            runs.refuse_after_interrupted_finalization()
            with runs.connect_warehouse(warehouse) as conn:
                _load_landing(conn)
                instant = _instant(conn, as_of)
                if customer and not _has_subscriptions(conn, instant, customer):
                    raise RunError(
                        f"customer {customer} has no subscription started by {instant} UTC: "
                        "there is no invoice to preview"
                    )
                last = _last_month(conn, instant, customer)
            first = min(runs.first_month_to_close(last), last)
            scratch.parent.mkdir(parents=True)
            _copy(warehouse, scratch)
        copied = time.perf_counter()
        try:
            with duckdb.connect(str(scratch)) as conn:
                # The preview's instant: events after it are not there yet.
                conn.execute("delete from raw.events where event_timestamp > ?", [instant])
            _close_copy(scratch, first, last)
            closed = time.perf_counter()
            with runs.warehouse_lock(warehouse, wait=True, note="preview"):
                with runs.connect_warehouse(warehouse) as conn:
                    invoices = _write_previews(conn, scratch, instant, customer)
                    from orchestration.assets.outputs import publish_marts

                    publish_marts(conn, locations.output_dir / "marts")
        finally:
            shutil.rmtree(scratch.parent, ignore_errors=True)
    return {
        "as_of": instant,
        "months": (first, last),
        "invoices": invoices,
        "copy_seconds": round(copied - started, 2),
        "close_seconds": round(closed - copied, 2),
        "seconds": round(time.perf_counter() - started, 2),
    }


def _load_landing(conn: duckdb.DuckDBPyConnection) -> None:
    """Load new catalog and landing files into the raw tables, as a close's first step does."""
    from orchestration.landing.catalog import load_catalog
    from orchestration.landing.loader import ensure_raw_tables, load_folder
    from orchestration.landing.readers import LANDING_KINDS

    locations = current_locations()
    loaded_at = datetime.now(UTC).replace(tzinfo=None, microsecond=0)
    ensure_raw_tables(conn)
    load_catalog(conn, locations.catalog_dir)
    for name in LANDING_KINDS:
        load_folder(conn, name, locations.landing_dir / name, loaded_at)


def _instant(conn: duckdb.DuckDBPyConnection, as_of: str | None) -> datetime:
    """`as_of` (naive UTC text), else the latest event loaded, else now (as current usage)."""
    if as_of:
        return datetime.fromisoformat(as_of)
    latest = one_row(conn.execute("select max(event_timestamp) from raw.events"))[0]
    return latest or datetime.now(UTC).replace(tzinfo=None, microsecond=0)


def _has_subscriptions(conn: duckdb.DuckDBPyConnection, instant: datetime, customer: str) -> bool:
    return (
        one_row(
            conn.execute(
                "select count(*) from raw.subscriptions where external_customer_id = ? "
                "and started_at <= ?",
                [customer, instant],
            )
        )[0]
        > 0
    )


def _last_month(conn: duckdb.DuckDBPyConnection, instant: datetime, customer: str | None) -> str:
    """The last month the copy closes: one that holds the end of every current period, from the
    plans and billing times of the subscriptions started by the instant (the customer's, or all).
    A bound, not the periods themselves: those are the close's to compute."""
    condition, params = ("", [])
    if customer:
        condition, params = ("and subscriptions.external_customer_id = ?", [customer])
    rows = conn.execute(
        "select distinct coalesce(subscriptions.billing_time, 'calendar'), plans.interval "
        "from raw.subscriptions as subscriptions "
        "inner join raw.catalog_plans as plans on plans.plan_code = subscriptions.plan_code "
        f"where subscriptions.started_at <= ? {condition}",
        [instant, *params],
    ).fetchall()
    # A local date is at most a day after the UTC one.
    day = (instant + timedelta(days=1)).date()
    last = max(
        (_period_end_month(day, timing, interval) for timing, interval in rows),
        default=day.year * 12 + day.month - 1,
    )
    return f"{last // 12:04d}-{last % 12 + 1:02d}"


def _period_end_month(day: date, timing: str, interval: str) -> int:
    """The latest month (year * 12 + month - 1) in which a period holding `day` can end: a week
    ends within 6 days; a calendar period at the end of its month, quarter, half or year (from
    January); an anniversary period before `day` plus its interval."""
    if interval == "weekly":
        day += timedelta(days=6)
        return day.year * 12 + day.month - 1
    index = day.year * 12 + day.month - 1
    months = INTERVAL_MONTHS.get(interval, 12)
    if timing == "calendar":
        return index - index % months + months - 1
    return index + months


def _month_after(month: str) -> str:
    first = date.fromisoformat(f"{month}-01")
    return (first + timedelta(days=32)).replace(day=1).isoformat()


def _copy(warehouse: Path, scratch: Path) -> None:
    """Copy the warehouse file (and its write-ahead log, if a killed run left one)."""
    if not warehouse.exists():
        raise RunError(f"{warehouse} does not exist: nothing to preview (load or close first)")
    shutil.copyfile(warehouse, scratch)
    wal = warehouse.with_name(f"{warehouse.name}.wal")
    if wal.exists():
        shutil.copyfile(wal, scratch.with_name(f"{scratch.name}.wal"))


@contextmanager
def _exported(**values: str) -> Iterator[None]:
    with restored_environment(*values):
        os.environ.update(values)
        yield


def _close_copy(scratch: Path, first: str, last: str) -> None:
    """Close months `first` to `last` in the copy: the close's own dbt models over that window,
    in one dbt invocation. Months that have not ended are closed on purpose: their invoices
    bill the periods that end in them with the events loaded so far."""
    from orchestration.assets.dbt_models import prune_invocation_folders

    target = Path(dbt_project.project_dir) / "target"
    invocation = target / f"{INVOCATION_PREFIX}-{uuid.uuid4().hex[:12]}"
    window = close_window_vars(f"{first}-01", _month_after(last))
    label = f"preview {first}" + (f"..{last}" if last != first else "")
    # dbt's profile reads the warehouse from the environment: the copy's, for this command only.
    with _exported(MH_WAREHOUSE=str(scratch)), console.run_output(label) as output:
        restore_partial_parse(invocation)
        output.enter("build")
        returncode, _, errors = run_dbt(
            [*PREVIEW_DBT_ARGS, *vars_args(window)],
            project_dir=Path(dbt_project.project_dir),
            profiles_dir=Path(dbt_project.profiles_dir or dbt_project.project_dir),
            target_path=invocation,
        )
        if returncode:
            raise RunError(f"{label} failed in the scratch copy: " + "\n".join(errors))
        save_partial_parse(invocation)
    prune_invocation_folders(target, prefix=INVOCATION_PREFIX)


# The drafted invoices of the copy that are the previews: for each subscription active at the
# instant (the customer's, or all), its first period-end invoice issued after the instant's local
# date (Lago's "next billing date"), with every subscription billed on it.
SELECT_PREVIEWS = """
create or replace temp table preview_invoice_ids as
with active as (
    select external_subscription_id, timezone
    from preview_copy.intermediate.int_subscription_phases
    where started_at <= $instant
        and (ended_at is null or ended_at > $instant)
        and ($customer is null or external_customer_id = $customer)
),

candidates as (
    select
        invoices.invoice_id,
        row_number() over (
            partition by lines.external_subscription_id
            order by invoices.issuing_date, invoices.invoice_id
        ) as next_billing
    from preview_copy.billing.fct_invoice_lines as lines
    inner join preview_copy.billing.fct_invoices as invoices
        on invoices.invoice_id = lines.invoice_id
    inner join active
        on active.external_subscription_id = lines.external_subscription_id
    where invoices.invoice_type = 'subscription'
        and invoices.status = 'draft'
        and invoices.issuing_date > cast(
            timezone(coalesce(active.timezone, 'UTC'), cast($instant as timestamptz)) as date
        )
)

select distinct invoice_id from candidates where next_billing = 1
"""


def _write_previews(
    conn: duckdb.DuckDBPyConnection, scratch: Path, instant: datetime, customer: str | None
) -> int:
    """Replace the previews of `customer` (of everyone when None) with the copy's; return how
    many invoices were previewed."""
    conn.execute("set TimeZone = 'UTC'")
    conn.execute(f"attach '{scratch}' as preview_copy (read_only)")
    try:
        conn.execute(SELECT_PREVIEWS, {"instant": instant, "customer": customer})
        previewed_at = datetime.now(UTC).replace(tzinfo=None, microsecond=0)
        conn.execute("begin transaction")
        try:
            conn.execute("create schema if not exists billing")
            for table, mart in PREVIEW_TABLES.items():
                _replace_rows(conn, table, mart, instant, previewed_at, customer)
            conn.execute("commit")
        except BaseException:
            conn.execute("rollback")
            raise
        return one_row(conn.execute("select count(*) from preview_invoice_ids"))[0]
    finally:
        conn.execute("detach preview_copy")


def _replace_rows(conn, table, mart, instant, previewed_at, customer) -> None:
    """The copy's rows of `mart` for the previewed invoices, as `billing.<table>`: status
    `preview` where the mart has one, plus the instant and when the preview ran."""
    columns = [
        row[0]
        for row in conn.execute(
            "select column_name from information_schema.columns where table_catalog = "
            "'preview_copy' and table_schema = 'billing' and table_name = ? "
            "order by ordinal_position",
            [mart],
        ).fetchall()
    ]
    selected = ", ".join(
        "'preview' as status" if column == "status" else f'"{column}"' for column in columns
    )
    conn.execute(
        f"create or replace temp table new_preview_rows as select {selected}, "
        "cast($instant as timestamp) as preview_as_of_at, "
        "cast($previewed_at as timestamp) as previewed_at "
        f"from preview_copy.billing.{mart} "
        "where invoice_id in (select invoice_id from preview_invoice_ids)",
        {"instant": instant, "previewed_at": previewed_at},
    )
    existing = [
        row[0]
        for row in conn.execute(
            "select column_name from information_schema.columns where table_catalog = "
            "current_database() and table_schema = 'billing' and table_name = ? "
            "order by ordinal_position",
            [table],
        ).fetchall()
    ]
    new = [*columns, "preview_as_of_at", "previewed_at"]
    # A customer's preview replaces that customer's rows; a preview of everyone, or one whose
    # columns changed with the marts', replaces the table.
    if customer is None or existing != new:
        conn.execute(f"create or replace table billing.{table} as select * from new_preview_rows")
        return
    conn.execute(f"delete from billing.{table} where external_customer_id = ?", [customer])
    conn.execute(f"insert into billing.{table} select * from new_preview_rows")


INVOICE_FIGURES = (
    "invoice_id",
    "currency",
    "issuing_date",
    "billing_period_start",
    "billing_period_end",
    "fees_amount",
    "progressive_billing_credit_amount",
    "sub_total_excluding_taxes_amount",
    "taxes_amount",
    "sub_total_including_taxes_amount",
    "credit_notes_amount",
    "total_amount",
    "preview_as_of_at",
)


def preview_report(customer: str) -> str:
    """A customer's previewed invoices: lines by subscription, coupons, taxes, credits, total."""
    invoices = [
        dict(zip(INVOICE_FIGURES, row, strict=True))
        for row in runs.query_warehouse(
            f"select {', '.join(INVOICE_FIGURES)} from billing.fct_invoice_previews "
            "where external_customer_id = ? order by issuing_date, invoice_id",
            [customer],
        )
    ]
    if not invoices:
        return (
            f"No invoice to preview for customer {customer}: no subscription active at the "
            "instant, or its next invoice is finalized already."
        )
    return "\n".join(_invoice_report(customer, invoice) for invoice in invoices)


def _invoice_report(customer: str, invoice: dict) -> str:
    """One previewed invoice in the order of docs/rules.md §12."""
    invoice_id, currency = invoice["invoice_id"], invoice["currency"]

    def money(label: str, amount, detail: str = "") -> str:
        return f"    {label:<44} {amount:>14} {currency}" + (f"  {detail}" if detail else "")

    out = [
        f"Invoice preview of {customer} as of {invoice['preview_as_of_at']:%Y-%m-%d %H:%M:%S} "
        "UTC (not billed: no number, no balance used)",
        f"  to be issued {invoice['issuing_date']}, period {invoice['billing_period_start']} to "
        f"{invoice['billing_period_end']}, {currency}, id {invoice_id}",
    ]
    subscription = None
    for sub, plan, line_type, name, units, amount in runs.query_warehouse(
        "select external_subscription_id, plan_code, line_type, "
        "coalesce(charge_code || coalesce(' [' || filter_code || ']', '') "
        "|| coalesce(' ' || pricing_group, ''), description), units, amount "
        "from billing.fct_invoice_preview_lines where invoice_id = ? "
        "order by external_subscription_id, line_type <> 'subscription', charge_code, "
        "filter_code, pricing_group",
        [invoice_id],
    ):
        if sub != subscription:
            subscription = sub
            out.append(f"  {sub} ({plan})")
        units_text = f"{units.normalize():f} units" if units is not None else ""
        out.append(money(f"  {line_type:<13} {name or ''}"[:44], amount, units_text))
    out.append(money("fees", invoice["fees_amount"]))
    progressive = invoice["progressive_billing_credit_amount"]
    if progressive:
        out.append(money("progressive billing credit", -progressive))
    credits = runs.query_warehouse(
        "select credit_type, coalesce(coupon_code, wallet_code, credit_note_id), amount "
        "from billing.fct_invoice_preview_credits where invoice_id = ? order by credit_type, 2",
        [invoice_id],
    )
    out += [money(f"coupon {name}", -amount) for kind, name, amount in credits if kind == "coupon"]
    out.append(money("sub total excluding taxes", invoice["sub_total_excluding_taxes_amount"]))
    for code, rate, amount in runs.query_warehouse(
        "select tax_code, tax_rate, tax_amount from billing.fct_invoice_preview_taxes "
        "where invoice_id = ? order by tax_code",
        [invoice_id],
    ):
        out.append(money(f"tax {code} {rate.normalize():f} %", amount))
    out.append(money("taxes", invoice["taxes_amount"]))
    out.append(money("sub total including taxes", invoice["sub_total_including_taxes_amount"]))
    out += [
        money(f"credit note {name}", -amount)
        for kind, name, amount in credits
        if kind == "credit_note"
    ]
    out += [
        money(f"prepaid credits (wallet {name})", -amount)
        for kind, name, amount in credits
        if kind == "prepaid_credit"
    ]
    out.append(money("total", invoice["total_amount"]))
    return "\n".join(out)
