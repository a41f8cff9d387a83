"""What the bench's generation and floor share: the event files' columns, a DuckDB connection."""

import duckdb

from meterhouse_tools.bench.results import BenchOptions

EVENT_COLUMNS = ("transaction_id", "external_subscription_id", "code", "timestamp", "properties")


def bench_connection(
    options: BenchOptions, database: str = ":memory:"
) -> duckdb.DuckDBPyConnection:
    """A DuckDB connection with the bench's thread count and memory limit."""
    conn = duckdb.connect(
        database, config={"threads": options.threads, "memory_limit": options.memory_limit}
    )
    conn.execute("set TimeZone = 'UTC'")
    return conn
