"""The billing month: one shared monthly partitions definition (docs/conventions.md).

Partitions start at the first month with data, so the UI does not list months before it as
missing. `meterhouse ui` works that month out from the warehouse and the landing folder
(`first_close_month`) and exports it as MH_DATA_FIRST_MONTH before Dagster loads this module;
MH_FIRST_CLOSE_MONTH, when set, wins. A process that knows neither (a command run in-process, a
test) gets every month since EARLIEST_MONTH, and the commands refuse a month before the first
one themselves (runs._check_month), naming MH_FIRST_CLOSE_MONTH.
"""

import os
from dataclasses import dataclass
from datetime import UTC, datetime

import dagster as dg
import duckdb

from orchestration.settings import Locations
from orchestration.sql_rows import one_row

EARLIEST_MONTH = "2000-01"

FIRST_CLOSE_MONTH = (
    os.environ.get("MH_FIRST_CLOSE_MONTH")
    or os.environ.get("MH_DATA_FIRST_MONTH")
    or EARLIEST_MONTH
)

# Keys are YYYY-MM. end_offset=0: the open month is not a partition until it has ended.
monthly_partitions = dg.MonthlyPartitionsDefinition(
    start_date=FIRST_CLOSE_MONTH, fmt="%Y-%m", end_offset=0, timezone="UTC"
)


@dataclass(frozen=True, slots=True)
class FirstMonth:
    """The first billing month of an installation, and where that comes from."""

    month: str  # YYYY-MM; "" when nothing tells (no data yet, nothing configured)
    source: str


def first_close_month(locations: Locations) -> FirstMonth:
    """MH_FIRST_CLOSE_MONTH if set, else the first month with data: the earliest closed month or
    subscription start in the warehouse, or subscription start waiting in landing/subscriptions."""
    configured = os.environ.get("MH_FIRST_CLOSE_MONTH")
    if configured:
        return FirstMonth(configured, "set by MH_FIRST_CLOSE_MONTH")
    found = []
    if locations.warehouse.exists():
        try:
            # Not read_only: within one process DuckDB refuses a second configuration of a file.
            with duckdb.connect(str(locations.warehouse)) as conn:
                for sql in (
                    "select strftime(min(billing_month), '%Y-%m') from raw.closed_months",
                    "select strftime(min(started_at), '%Y-%m') from raw.subscriptions",
                ):
                    try:
                        value = one_row(conn.execute(sql))[0]
                    except duckdb.CatalogException:
                        continue
                    if value:
                        found.append(value)
        except duckdb.Error:
            pass  # open in another process: the landing folder still tells
    from orchestration.landing.loader import landing_first_start

    waiting = landing_first_start(locations.landing_dir / "subscriptions")
    if waiting:
        found.append(waiting)
    if not found:
        return FirstMonth("", "no subscription loaded or waiting yet")
    return FirstMonth(min(found), "the first month with a subscription")


def ui_first_month(locations: Locations) -> str:
    """The first partition the UI shows: as first_close_month, else the last ended month."""
    first = first_close_month(locations).month
    if first:
        return first
    now = datetime.now(UTC)
    year, month = (now.year, now.month - 1) if now.month > 1 else (now.year - 1, 12)
    return f"{year:04d}-{month:02d}"


def window_of(context: dg.AssetExecutionContext) -> tuple[str, str]:
    """The half-open window [first day of the first month, first day after the last month)."""
    window = context.partition_time_window
    return window.start.date().isoformat(), window.end.date().isoformat()


def close_window_vars(start: str, end: str, *, finalize: bool = False) -> dict[str, str]:
    """dbt's vars for a close of the months [start, end) (first days of months), or for the
    finalization of the month `start` (docs/conventions.md; macros/billing_period.sql)."""
    return {
        "billing_period_start": start,
        "billing_period_end": end,
        "finalize_month": start if finalize else "",
    }
