"""Stage a Parquet file, read with pyarrow so one value that is not UTF-8 spoils only its row."""

from pathlib import Path

import duckdb
import numpy as np
import pyarrow as pa
import pyarrow.parquet as pq

from orchestration.landing.readers.kinds import LandingKind
from orchestration.landing.readers.staged import UnreadableFileError, identifier, select_fields


def _read_parquet(conn: duckdb.DuckDBPyConnection, path: Path) -> str:
    """Register the Parquet file as `parquet_source` (+ `__mh_row_number`); return its columns.

    Read with pyarrow rather than DuckDB's read_parquet: DuckDB refuses the whole file when one
    string value is not valid UTF-8, and that error also aborts the load's transaction. A string
    column holding such a value is read as binary instead; `stage_file` decodes binary values and
    marks the rows that do not decode as unparseable.
    """
    try:
        table = pq.read_table(path)
    except pa.ArrowException as error:  # not Parquet, truncated, empty
        raise UnreadableFileError(str(error)) from error
    for index, column in enumerate(table.columns):
        if pa.types.is_string(column.type) or pa.types.is_large_string(column.type):
            try:
                column.validate(full=True)
            except pa.ArrowInvalid:
                binary = pa.large_binary() if pa.types.is_large_string(column.type) else pa.binary()
                table = table.set_column(index, table.field(index).name, column.cast(binary))
    source_columns = table.column_names
    table = table.append_column(ROW_NUMBER, pa.array(np.arange(table.num_rows, dtype=np.int64)))
    conn.register("parquet_source", table)
    return ", ".join(f"{identifier(c)} := {identifier(c)}" for c in source_columns)


ROW_NUMBER = "__mh_row_number"


def stage_parquet(conn: duckdb.DuckDBPyConnection, kind: LandingKind, path: Path) -> None:
    """Create `staged_text` from a Parquet file: a row's line number is its row number + 1."""
    struct = _read_parquet(conn, path)
    select = select_fields(conn, kind, "parquet_source", f"to_json(struct_pack({struct}))")
    conn.execute(
        f"""
        create or replace temp table staged_text as
        select {ROW_NUMBER} + 1 as line_number, {select}
        from parquet_source
        """
    )
    conn.unregister("parquet_source")
