"""Runs of the close and finalization jobs, in-process, in the order billing needs.

Balances chain from month to month (docs/conventions.md), so a close first closes, as one backfill
run, every earlier month with billable activity that was never closed; and months are finalized in
order, so invoice numbers follow issuing dates.

One run at a time per warehouse (docs/operations.md): a close, a finalization or a demo holds an
advisory lock on `<warehouse>.lock`, which the kernel releases however the process ends, so a
killed run never leaves a stale lock. Holding it, a run knows that any run of this CLI still
marked as in progress in the Dagster instance was killed, and cleans up after it.
"""

import fcntl
import os
import re
import sys
from collections.abc import Iterable, Iterator
from contextlib import contextmanager
from datetime import UTC, date, datetime
from pathlib import Path

import dagster as dg
import duckdb

from orchestration import console
from orchestration.partitions import first_close_month, monthly_partitions
from orchestration.settings import Locations, current_locations
from orchestration.sql_rows import one_row


class RunError(Exception):
    """A refused or failed run, explained for the person who started it."""


# Tags every run this CLI starts, so a later run can tell a killed one from a UI run, or from a
# live run on another warehouse that shares the Dagster instance.
CLI_PID_TAG = "meterhouse/pid"
CLI_WAREHOUSE_TAG = "meterhouse/warehouse"
# A run in one of these states has not ended (it may be queued, launched, running, canceling).
UNFINISHED = [
    dg.DagsterRunStatus.NOT_STARTED,
    dg.DagsterRunStatus.STARTING,
    dg.DagsterRunStatus.STARTED,
    dg.DagsterRunStatus.CANCELING,
]

# Warehouses whose lock this process holds: demo() takes it once for its closes and finalizations.
_held_locks: set[Path] = set()


def lock_path(warehouse: Path) -> Path:
    """The advisory lock file of a warehouse: `<warehouse>.lock`, beside it."""
    return warehouse.with_name(f"{warehouse.name}.lock")


@contextmanager
def warehouse_lock(warehouse: Path, *, wait: bool = False, note: str = "") -> Iterator[None]:
    """Hold the one-run-at-a-time lock of `warehouse` (flock on `<warehouse>.lock`).

    Another holder makes this raise RunError at once, or, with `wait`, block until it is done.
    A holder noted as `webhooks` (a delivery pass reading or recording its outbox: milliseconds,
    docs/webhooks.md) is always waited for. Re-entrant within a process.
    """
    warehouse = warehouse.resolve()
    if warehouse in _held_locks:
        yield
        return
    path = lock_path(warehouse)
    path.parent.mkdir(parents=True, exist_ok=True)
    fd = os.open(path, os.O_RDWR | os.O_CREAT, 0o644)
    try:
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            holder = os.pread(fd, 32, 0).decode(errors="replace").strip() or "unknown"
            if not wait and not holder.endswith(" webhooks"):
                raise RunError(
                    f"another close or finalization is running on {warehouse} (pid {holder}); "
                    "wait for it to end, or pass --wait to start as soon as it does"
                ) from None
            print(f"Waiting for pid {holder} to finish its run on {warehouse}...", file=sys.stderr)  # noqa: T201
            fcntl.flock(fd, fcntl.LOCK_EX)
        # Only for the message above: the lock itself is the flock, not this content.
        os.ftruncate(fd, 0)
        os.pwrite(fd, f"{os.getpid()} {note}".strip().encode() + b"\n", 0)
        _refuse_other_programs(warehouse)
        _held_locks.add(warehouse)
        try:
            yield
        finally:
            _held_locks.discard(warehouse)
    finally:
        os.close(fd)  # releases the flock


@contextmanager
def connect_warehouse(warehouse: Path) -> Iterator[duckdb.DuckDBPyConnection]:
    """A short-lived connection to the warehouse; RunError if another program has it open.

    DuckDB lets one process open a file that is being written. Refusing at once beats Dagster's
    resource retrying for about 100 s and dbt for about 2 minutes before failing the same way.
    """
    try:
        conn = duckdb.connect(str(warehouse))
    except duckdb.IOException as error:
        if "lock" not in str(error).lower():
            raise
        marts = current_locations().output_dir / "marts"
        raise RunError(
            f"the warehouse {warehouse} is open in another program, and DuckDB lets only one "
            f"process open a file that is being written. Close that program and run again "
            f"(BI tools should read the Parquet marts in {marts}). DuckDB said: {error}"
        ) from None
    with conn:
        yield conn


def _refuse_other_programs(warehouse: Path) -> None:
    """Refuse at once when another program (a BI tool, `meterhouse ui`) has the file open."""
    if warehouse.exists():
        with connect_warehouse(warehouse):
            pass


def _release_killed_runs(instance: dg.DagsterInstance) -> None:
    """Mark the CLI's runs that never ended as failed, and give back their pool slots.

    Called under the warehouse lock, so no run of this CLI on this warehouse is alive: one still
    in progress was killed. Its claim on the `duckdb_writer` pool slot would otherwise make every
    later run wait for that slot forever.
    """
    killed = [
        run
        for run in instance.get_runs(filters=dg.RunsFilter(statuses=UNFINISHED))
        if run.tags.get(CLI_WAREHOUSE_TAG) == _cli_tags()[CLI_WAREHOUSE_TAG]
    ]
    for run in killed:
        instance.report_run_failed(
            run, f"the process of this run (pid {run.tags[CLI_PID_TAG]}) was killed"
        )
    storage = instance.event_log_storage
    if storage.supports_global_concurrency_limits:
        for run_id in storage.get_concurrency_run_ids():
            claimant = instance.get_run_by_id(run_id)
            if claimant is None or claimant.status not in UNFINISHED:
                storage.free_concurrency_slots_for_run(run_id)


def _cli_tags() -> dict[str, str]:
    """The tags of a run started by this process on the current warehouse."""
    return {
        CLI_PID_TAG: str(os.getpid()),
        CLI_WAREHOUSE_TAG: str(current_locations().warehouse.resolve()),
    }


def _months(first: str, last: str) -> list[str]:
    keys = monthly_partitions.get_partition_keys()
    return [key for key in keys if first <= key <= last]


def query_warehouse(sql: str, params: Iterable | None = None) -> list[tuple]:
    """Read the warehouse in a short-lived connection (closed before any dbt run); a table that
    does not exist yet reads as empty."""
    path = current_locations().warehouse
    if not path.exists():
        return []
    with connect_warehouse(path) as conn:
        try:
            return conn.execute(sql, list(params or [])).fetchall()
        except duckdb.CatalogException:
            return []


def _failures(result: dg.ExecuteInProcessResult) -> str:
    """What made the run fail, in words: the innermost error of each failed step, without the
    wrappers Dagster puts around it nor its class path (the stack trace is for --debug)."""
    messages = []
    for event in result.all_events:
        if not (event.is_step_failure and event.step_failure_data.error):
            continue
        error = event.step_failure_data.error
        while error.cause is not None:
            error = error.cause
        message = error.message.strip()
        if error.cls_name:
            message = re.sub(rf"^[\w.]*\b{re.escape(error.cls_name)}: ", "", message)
        messages.append(message)
    return console.explain_catalog_violations("\n".join(messages)) or "see the run in the UI"


def _loggers() -> dict:
    """Dagster's console logger: silent but for crashes, unless `--debug` (the CLI prints its own
    progress and one paragraph per error; the full event stream stays in the run, in the UI)."""
    level = "DEBUG" if console.options.debug else "CRITICAL"
    return {"loggers": {"console": {"config": {"log_level": level}}}}


# Runs of the CLI carry the month they close or finalize, so the UI's runs list shows it.
STAGE_TAG = "meterhouse/stage"
MONTH_TAG = "meterhouse/month"


def _month_tags(months: list[str], stage: str) -> dict[str, str]:
    """One month: its partition (the chip of the runs list); several: the range."""
    tags = {STAGE_TAG: stage, MONTH_TAG: months[-1]}
    if len(months) == 1:
        tags["dagster/partition"] = months[0]
    else:
        tags["dagster/asset_partition_range_start"] = months[0]
        tags["dagster/asset_partition_range_end"] = months[-1]
    return tags


def _execute(
    job_name: str,
    tags: dict[str, str],
    partition_key: str | None = None,
    run_config: dict | None = None,
    asset_selection: list[dg.AssetKey] | None = None,
) -> None:
    from orchestration.definitions import defs

    job = defs.resolve_job_def(job_name)
    label = f"{tags.get(STAGE_TAG, job_name)} {tags.get(MONTH_TAG, partition_key or '')}".strip()
    with dg.DagsterInstance.get() as instance, console.run_output(label) as output:
        _release_killed_runs(instance)
        if asset_selection is not None:
            output.enter("build")
        result = job.execute_in_process(
            run_config={**(run_config or {}), **_loggers()},
            instance=instance,
            partition_key=partition_key,
            tags={**tags, **_cli_tags()},
            raise_on_error=False,
            asset_selection=asset_selection,
        )
        if not result.success:
            raise RunError(f"{label} failed: {_failures(result)}")


def _check_month(month: str, *, from_first_month: bool = True) -> None:
    """Refuse a month that has not ended, or (to close) one before the first billing month."""
    keys = monthly_partitions.get_partition_keys()
    first = first_close_month(current_locations())
    if from_first_month and first.month and month < first.month:
        raise RunError(
            f"{month} is before the first billing month, {first.month} ({first.source}). "
            f"To close it, set MH_FIRST_CLOSE_MONTH={month} in the environment and run again."
        )
    if month not in keys:
        raise RunError(
            f"{month} is not a closable month (from {max(keys[0], first.month)} to {keys[-1]}; "
            "a month can be closed once it has ended)"
        )


def _write(sql: str, params: Iterable | None = None) -> None:
    """Write the warehouse in a short-lived connection (closed before any dbt run)."""
    with connect_warehouse(current_locations().warehouse) as conn:
        conn.execute(sql, list(params or []))


def _interrupted_finalizations() -> list[str]:
    """Months whose finalization froze invoices but never finished (killed, or failed after).

    Only a re-run of that finalization completes them with the drafts they were frozen from; a
    close in between could change those drafts, and a later month's finalization would never
    append what is missing.
    """
    return [
        row[0]
        for row in query_warehouse(
            "select distinct strftime(billing_month, '%Y-%m') as month from raw.finalizations "
            "where finished_at is null and billing_month in "
            "(select billing_month from ledger.finalized_invoices) order by month"
        )
    ]


def refuse_after_interrupted_finalization(month: str | None = None) -> None:
    interrupted = [m for m in _interrupted_finalizations() if m != month]
    if interrupted:
        raise RunError(
            f"the finalization of {interrupted[0]} did not finish: run "
            f"`meterhouse finalize --month {interrupted[0]}` again to complete it first"
        )


def close_month(month: str, *, wait: bool = False) -> list[str]:
    """Close `month`, after every earlier unclosed month with activity; return the months."""
    with warehouse_lock(current_locations().warehouse, wait=wait):
        _check_month(month)  # under the lock: it reads the warehouse
        refuse_after_interrupted_finalization()
        return _close_months_up_to(month)


def _close_months_up_to(month: str) -> list[str]:
    """One run loads what is new and closes every month that needs it, up to `month`."""
    months = _months(first_month_to_close(month), month)
    _execute("monthly_close", _month_tags(months, "close"))
    # Events this run loaded may be late for a month closed before it: close again from there
    # (the landing step is left out: it has loaded everything already).
    late = _earliest_month_with_late_events()
    if late and late < months[0]:
        from orchestration.definitions import monthly_close_job_assets_after_landing

        months = _months(late, month)
        print(f"Late events for {late}: closing again from {late}.")  # noqa: T201
        _execute(
            "monthly_close",
            _month_tags(months, "close"),
            asset_selection=monthly_close_job_assets_after_landing(),
        )
    return months


def first_month_to_close(month: str) -> str:
    """The first month a close of `month` closes: the earliest month with billable activity never
    closed, or the earliest closed month with late events, else `month` itself. The invoice
    preview (orchestration/preview.py) closes from the same month in its scratch copy."""
    from orchestration.landing.loader import landing_first_start

    closed = {
        row[0]
        for row in query_warehouse(
            "select distinct strftime(billing_month, '%Y-%m') from raw.closed_months"
        )
    }
    # Where billable activity starts: subscriptions loaded before, or waiting in landing/.
    starts = [
        row[0]
        for row in query_warehouse(
            "select strftime(min(started_at), '%Y-%m') from raw.subscriptions"
        )
        if row[0]
    ]
    waiting = landing_first_start(current_locations().landing_dir / "subscriptions")
    if waiting:
        starts.append(waiting)
    start = month
    if starts:
        earlier = [m for m in _months(min(starts), month) if m not in closed]
        start = earlier[0] if earlier else month
    # Late events for a month closed before (finalized or not) close it again, so that its
    # drafts are current and a finalized one shows what changed (docs/conventions.md).
    late = _earliest_month_with_late_events()
    if late and late < start:
        start = late
    return start


def _earliest_month_with_late_events() -> str | None:
    """The earliest closed month with events loaded after its last close, in the window of the
    periods it closes (from the month before: anniversary periods start there)."""
    rows = query_warehouse(
        """
        with last_closes as (
            select billing_month, max(closed_at) as closed_at
            from raw.closed_months
            group by billing_month
        )
        select strftime(min(last_closes.billing_month), '%Y-%m')
        from last_closes
        where exists (
            select 1
            from raw.events
            where events.loaded_at >= last_closes.closed_at
                and events.event_timestamp >= last_closes.billing_month - interval 1 month
                and events.event_timestamp < last_closes.billing_month + interval 1 month
        )
        """
    )
    return rows[0][0] if rows else None


def refresh_usage(as_of: str | None = None, *, wait: bool = False) -> dict:
    """Load what landed and compute current usage as of `as_of` (default: the latest event
    loaded), under the warehouse lock (docs/current-usage.md); return the refresh's figures."""
    with warehouse_lock(current_locations().warehouse, wait=wait):
        refuse_after_interrupted_finalization()
        started = datetime.now(UTC).replace(tzinfo=None)
        _execute(
            "usage_refresh",
            {STAGE_TAG: "usage"},
            run_config={
                "ops": {"usage_refresh_models": {"config": {"as_of": as_of or ""}}},
            },
        )
        from orchestration.assets.usage import usage_figures

        with connect_warehouse(current_locations().warehouse) as conn:
            refreshed_at = one_row(
                conn.execute("select max(refreshed_at) from raw.usage_refresh_inputs")
            )[0]
            # The refresh records its inputs only when it computed; an older record means it
            # found nothing new (orchestration/assets/usage.py).
            return {**usage_figures(conn), "unchanged": refreshed_at < started}


def customer_usage_report(customer: str) -> str:
    """A customer's period to date, per subscription and charge, from billing.fct_usage_current."""
    subscriptions = query_warehouse(
        "select external_subscription_id, plan_code, currency, from_datetime, to_datetime, amount, "
        "taxes_amount, total_amount, projected_amount, as_of_at "
        "from billing.fct_usage_current_subscriptions where external_customer_id = ? "
        "order by external_subscription_id",
        [customer],
    )
    if not subscriptions:
        return f"No active subscription with current usage for customer {customer}."
    lines = [f"Current usage of {customer}:"]
    for sub, plan, currency, start, end, amount, taxes, total, projected, as_of in subscriptions:
        lines.append(
            f"  {sub} ({plan}) {start:%Y-%m-%d %H:%M:%S} to {end:%Y-%m-%d %H:%M:%S} UTC, "
            f"as of {as_of:%Y-%m-%d %H:%M:%S}"
        )
        for charge, filter_code, group, units, events, line_amount in query_warehouse(
            "select charge_code, filter_code, pricing_group, units, events_count, amount "
            "from billing.fct_usage_current where external_subscription_id = ? "
            "order by charge_code, filter_code, pricing_group",
            [sub],
        ):
            bucket = charge + (f" [{filter_code}]" if filter_code else "")
            bucket += f" {group}" if group else ""
            lines.append(
                f"    {bucket:<40} {units.normalize():>16f} units {events:>8} events "
                f"{line_amount:>14} {currency}"
            )
        lines.append(f"    {'amount':<40} {amount:>14} {currency}")
        lines.append(f"    {'taxes':<40} {taxes:>14} {currency}")
        lines.append(f"    {'total':<40} {total:>14} {currency}")
        lines.append(f"    {'projected to period end':<40} {projected:>14} {currency}")
    return "\n".join(lines)


def finalize_month(month: str, *, wait: bool = False) -> None:
    """Number and freeze a closed month, render its PDFs and sync the ledger."""
    _check_month(month, from_first_month=False)  # a month never closed is refused below
    with warehouse_lock(current_locations().warehouse, wait=wait):
        refuse_after_interrupted_finalization(month)
        _finalize(month)


def _finalize(month: str) -> None:
    closed = {
        row[0]
        for row in query_warehouse(
            "select distinct strftime(billing_month, '%Y-%m') from raw.closed_months"
        )
    }
    if month not in closed:
        raise RunError(f"{month} has not been closed: run `meterhouse close --month {month}` first")
    # Numbers follow issuing dates, so an earlier month still holding drafts goes first.
    pending = [
        row[0]
        for row in query_warehouse(
            "select distinct strftime(billing_month, '%Y-%m') as month from billing.fct_invoices "
            "where status = 'draft' and billing_month < cast(? as date) order by month",
            [f"{month}-01"],
        )
    ]
    if pending:
        raise RunError(f"finalize {pending[0]} first: months are finalized in order")
    # Started here, finished below: a run killed in between is completed by running it again.
    _write(
        "create table if not exists raw.finalizations "
        "(billing_month date not null, started_at timestamp not null, finished_at timestamp)"
    )
    _write(
        "insert into raw.finalizations select cast(? as date), current_timestamp, null "
        "where not exists (select 1 from raw.finalizations "
        "where billing_month = cast(? as date) and finished_at is null)",
        [f"{month}-01", f"{month}-01"],
    )
    _execute(
        "finalize_month",
        {STAGE_TAG: "finalize", MONTH_TAG: month},
        partition_key=month,
        run_config={"ops": {"billing_dbt_models": {"config": {"finalize": True}}}},
    )
    _write(
        "update raw.finalizations set finished_at = current_timestamp "
        "where billing_month = cast(? as date) and finished_at is null",
        [f"{month}-01"],
    )


def ui_command(locations: Locations) -> str:
    """`meterhouse ui`, with the locations of this command where they are not the defaults."""
    from orchestration.settings import resolve_locations

    defaults = resolve_locations({})
    flags = {
        "MH_CATALOG_DIR": ("--catalog", locations.catalog_dir),
        "MH_LANDING_DIR": ("--landing", locations.landing_dir),
        "MH_WAREHOUSE": ("--warehouse", locations.warehouse),
        "MH_OUTPUT_DIR": ("--output", locations.output_dir),
    }
    parts = ["meterhouse ui"] + [
        f"{flag} {path}" for name, (flag, path) in flags.items() if str(path) != defaults[name]
    ]
    return " ".join(parts)


def rejected_since(since: datetime | None) -> list[tuple]:
    """(input kind, reason, rows) of the rejected inputs loaded since `since` (all if None)."""
    condition, params = ("where loaded_at >= ?", [since]) if since else ("", [])
    return query_warehouse(
        "select input_kind, reason, count(*) from billing.rejected_inputs "
        f"{condition} group by input_kind, reason order by input_kind, reason",
        params,
    )


def summary(locations: Locations, month: str | None = None, since: datetime | None = None) -> str:
    """A month's invoices by status and currency (every month's when `month` is None), the
    rejected inputs loaded since `since`, and where to read the rest."""
    condition, params = (
        ("where billing_month = cast(? as date)", [f"{month}-01"])
        if month
        else (
            "",
            [],
        )
    )
    rows = query_warehouse(
        "select status, currency, count(*), sum(total_amount) from billing.fct_invoices "
        f"{condition} group by status, currency order by status, currency",
        params,
    )
    title = f"Invoices of {month}" if month else "Invoices"
    lines = [f"{title} (status, currency, count, total):"]
    lines += [
        f"  {status:<9} {currency} {count:>6} {total:>16}"
        for status, currency, count, total in rows
    ] or ["  none"]
    lines += rejected_report(locations, since)
    lines += [
        f"Warehouse:   {locations.warehouse}",
        f"PDFs:        {locations.output_dir / 'invoices'}",
        f"Ledger:      {locations.output_dir / 'accounting' / 'ledger.beancount'}",
        f"BI Parquet:  {locations.output_dir / 'marts'}",
        f"Dagster UI:  {ui_command(locations)}  (then open http://127.0.0.1:3000)",
    ]
    if console.options.log_path:
        lines.append(f"dbt log:     {console.options.log_path}  (--verbose prints it)")
    return "\n".join(lines)


def rejected_report(locations: Locations, since: datetime | None) -> list[str]:
    """Rejected rows by input and reason (those loaded since `since`), and how to list them."""
    new = rejected_since(since) if since else []
    total = sum(row[0] for row in query_warehouse("select count(*) from billing.rejected_inputs"))
    warehouse = (
        ""
        if "--warehouse" not in ui_command(locations)
        else (f" --warehouse {locations.warehouse}")
    )
    if not new:
        if not total:
            return ["Rejected input rows: none."]
        return [
            f"Rejected input rows: none new; {total} from earlier loads "
            f"(list them: meterhouse rejects{warehouse})."
        ]
    lines = [f"Rejected input rows: {sum(row[2] for row in new)} new ({total} in all):"]
    lines += [f"  {kind:<20} {reason:<24} {count:>6}" for kind, reason, count in new]
    lines.append(f"  List them: meterhouse rejects{warehouse} [--reason REASON] [--kind INPUT]")
    return lines


def demo(
    locations: Locations,
    *,
    months: int,
    customers: int,
    events: int,
    seed: int,
    first_month: str,
    wait: bool = False,
) -> None:
    """Generate the demo data set, then close and finalize each of its months."""
    with warehouse_lock(locations.warehouse, wait=wait):
        _demo(
            locations,
            months=months,
            customers=customers,
            events=events,
            seed=seed,
            first_month=first_month,
        )


def _demo(
    locations: Locations, *, months: int, customers: int, events: int, seed: int, first_month: str
) -> None:
    from meterhouse_tools.demo_data import generate_demo_dataset

    since = datetime.now(UTC).replace(tzinfo=None, microsecond=0)

    manifest = generate_demo_dataset(
        locations.landing_dir,
        seed=seed,
        months=months,
        customers=customers,
        events=events,
        first_month=date.fromisoformat(f"{first_month}-01"),
    )
    print(f"Generated {manifest.events_written} events for {manifest.customers} customers")  # noqa: T201
    demo_months = _months(first_month, "9999-12")[:months]
    for month in demo_months:
        close_month(month)
        finalize_month(month)
        print(f"Closed and finalized {month}")  # noqa: T201
    print(summary(locations, since=since))  # noqa: T201
