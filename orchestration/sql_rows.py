"""The one row of a DuckDB query that always returns a row, typed for the checker."""

from typing import Any

import duckdb


def one_row(result: duckdb.DuckDBPyConnection) -> tuple[Any, ...]:
    """The first row of `result` (an executed query): an aggregate, a `select` of values.

    DuckDB's `fetchone()` says None when a query returns no row; the queries passed here always
    return one, so a missing row is a bug, raised here rather than as a TypeError on indexing.
    """
    row = result.fetchone()
    if row is None:
        raise LookupError("the query returned no row")
    return row
