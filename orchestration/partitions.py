"""The billing month: one shared monthly partitions definition (CONTRACT §2)."""

import os

import dagster as dg

# The first close month a deployment can run; older history is out of reach of the UI and CLI.
FIRST_CLOSE_MONTH = os.environ.get("MH_FIRST_CLOSE_MONTH", "2024-01")

# Keys are YYYY-MM. end_offset=0: the open month is not a partition until it has ended.
monthly_partitions = dg.MonthlyPartitionsDefinition(
    start_date=FIRST_CLOSE_MONTH, fmt="%Y-%m", end_offset=0, timezone="UTC"
)


def window_of(context: dg.AssetExecutionContext) -> tuple[str, str]:
    """The half-open window [first day of the first month, first day after the last month)."""
    window = context.partition_time_window
    return window.start.date().isoformat(), window.end.date().isoformat()
