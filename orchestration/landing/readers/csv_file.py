"""Stage a CSV file: the header's dialect pinned, rejected records and a lost tail kept as rows."""

import codecs
import contextlib
import csv
import os
import shutil
import tempfile
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import duckdb

from orchestration.landing.readers.kinds import LandingKind
from orchestration.landing.readers.staged import UnreadableFileError, select_fields, sql_string
from orchestration.sql_rows import one_row

# Longest CSV record read; DuckDB's default is 2 MB, and a longer one used to fail the whole file.
# A record past this is quarantined as malformed, and the rest of the file loads.
MAX_LINE_BYTES = 64 * 1024 * 1024

# DuckDB's CSV reader skips what it cannot read (bytes that are not UTF-8, a record over
# MAX_LINE_BYTES, too many or too few fields) and records it here, instead of failing the file.
REJECTS = "store_rejects = true, rejects_table = 'reader_rejects', rejects_scan = 'reader_scans'"


# Delimiters a CSV file may use: the one that splits its header line into the most columns.
CSV_DELIMITERS = (",", ";", "\t", "|")


@dataclass(frozen=True, slots=True)
class CsvHeader:
    """What a CSV file's first line says: its column names, delimiter and line ending."""

    names: list[str]  # made unique (`a, a` -> `a, a_1`); empty for an empty file
    delimiter: str
    newline: bytes


def _csv_header(path: Path) -> CsvHeader:
    """Read the header line (never a data row, so a hostile row cannot change the dialect)."""
    with path.open("rb") as handle:
        first_line = handle.readline(MAX_LINE_BYTES).removeprefix(codecs.BOM_UTF8)
    try:
        text = first_line.decode("utf-8").rstrip("\r\n")
        splits = [(next(csv.reader([text], delimiter=d), []), d) for d in CSV_DELIMITERS]
    except (UnicodeDecodeError, csv.Error) as error:
        raise UnreadableFileError(f"the CSV header cannot be read: {error}") from error
    names, delimiter = max(splits, key=lambda split: len(split[0]))  # ties: the first, ","
    unique: list[str] = []
    for position, name in enumerate(names, start=1):
        candidate, suffix = name or f"column{position}", 0
        while candidate in unique:
            suffix += 1
            candidate = f"{name or f'column{position}'}_{suffix}"
        unique.append(candidate)
    return CsvHeader(unique, delimiter, b"\r\n" if first_line.endswith(b"\r\n") else b"\n")


# The last record of the copy of a CSV file that DuckDB reads (see _with_end_marker).
END_MARKER = "__meterhouse_end_of_file__"


@contextlib.contextmanager
def _with_end_marker(path: Path, header: CsvHeader) -> Iterator[Path]:
    """A temporary copy of a CSV file with one more record, END_MARKER in every column.

    DuckDB's CSV reader silently drops everything after a quote that never closes: no row, no
    reject, no error. When the marker does not come back, that is what happened to the tail.
    """
    with tempfile.TemporaryDirectory(prefix="meterhouse-csv-") as folder:
        copy = Path(folder) / "marked.csv"
        with path.open("rb") as source, copy.open("wb") as target:
            shutil.copyfileobj(source, target)
            if target.tell() and not _ends_with_newline(path):
                target.write(header.newline)
            marker = header.delimiter.join([END_MARKER] * len(header.names))
            target.write(marker.encode() + header.newline)
        yield copy


def _ends_with_newline(path: Path) -> bool:
    with path.open("rb") as handle:
        handle.seek(-1, os.SEEK_END)
        return handle.read(1) == b"\n"


def _number_lines(conn: duckdb.DuckDBPyConnection, first_line: int, target: str) -> None:
    """Copy `staged_records` (record_number in file order) to `target` with each row's line.

    The reader numbers only the records it kept; `reader_rejects.line` numbers the ones it skipped
    in the same sequence (the header is line 1 of a CSV). A kept record's line is therefore the
    k-th line that was not rejected. Numbering kept records 1, 2, 3 ... instead would give a row
    after a rejected one the rejected line's number, and the loader, which joins on line numbers,
    would then drop that good row with the bad one.
    """
    conn.execute(
        f"""
        create or replace temp table {target} as
        with rejected as (
            select distinct line from reader_rejects
        ),

        lines as (
            select range as line_number
            from range(
                {first_line},
                {first_line} + (select count(*) from staged_records)
                    + (select count(*) from rejected)
            )
        ),

        kept as (
            select line_number, row_number() over (order by line_number) as record_number
            from lines
            where line_number not in (select line from rejected)
        )

        select kept.line_number, staged_records.* exclude (record_number)
        from staged_records
        inner join kept on kept.record_number = staged_records.record_number
        """
    )
    conn.execute("drop table staged_records")


def _rejected_lines(conn: duckdb.DuckDBPyConnection) -> None:
    """Lines the reader skipped go to `staged_text` as unparseable (quarantined as malformed)."""
    conn.execute(
        "insert into staged_text (line_number, raw, is_parseable, has_nested_value) "
        "select line, min(trim(csv_line, chr(13) || chr(10))), false, false from reader_rejects "
        "group by line"
    )
    conn.execute("drop table if exists reader_rejects; drop table if exists reader_scans")


def stage_csv(conn: duckdb.DuckDBPyConnection, kind: LandingKind, path: Path) -> None:
    """Create `staged_text` from a CSV file (the first line names the columns).

    The dialect is RFC 4180 quoting with the header's delimiter, not sniffed from the rows: one
    row with an unbalanced quote made DuckDB's sniffer pick "no quoting" for the whole file, so
    every good row with a quoted JSON `properties` was quarantined and the broken row was billed.
    Pinned, only the broken record is rejected.
    """
    header = _csv_header(path)
    if not header.names:  # an empty file: no rows
        fields = ", ".join(f'cast(null as varchar) as "{f}"' for f in kind.fields)
        conn.execute(
            "create or replace temp table staged_text as select cast(null as bigint) as "
            "line_number, cast(null as varchar) as raw, false as is_parseable, "
            f"false as has_nested_value, {fields} where false"
        )
        return
    columns = ", ".join(f"{sql_string(name)}: 'VARCHAR'" for name in header.names)
    with _with_end_marker(path, header) as marked:
        reader = (
            f"read_csv({sql_string(str(marked))}, header = true, auto_detect = false, "
            f"columns = {{{columns}}}, delim = {sql_string(header.delimiter)}, quote = '\"', "
            f"escape = '\"', parallel = false, max_line_size = {MAX_LINE_BYTES}, {REJECTS})"
        )
        select = select_fields(conn, kind, reader, "to_json(source_row)")
        try:
            conn.execute(
                f"""
                create or replace temp table staged_records as
                select row_number() over () as record_number, {select}
                from {reader} as source_row
                """
            )
        except duckdb.InvalidInputException as error:  # the reader gave up on the whole file
            raise UnreadableFileError(str(error)) from error
    last_record, last_raw = one_row(
        conn.execute("select max(record_number), max_by(raw, record_number) from staged_records")
    )
    marker_read = last_raw is not None and END_MARKER in last_raw
    if marker_read:
        conn.execute("delete from staged_records where record_number = ?", [last_record])
    _number_lines(conn, first_line=2, target="staged_text")  # line 1 is the header
    _rejected_lines(conn)
    if not marker_read:
        # The rest of the file, from the record after the last one read, is one malformed row.
        conn.execute(
            "insert into staged_text (line_number, raw, is_parseable, has_nested_value) "
            "select coalesce(max(line_number), 1) + 1, null, false, false from staged_text"
        )
