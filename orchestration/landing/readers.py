"""Read a landing file of any supported format into uniform text rows, then type them.

Every format becomes the relation `staged_text`: `line_number`, `raw` (the row as text, kept for
quarantine), `is_parseable`, `has_nested_value` and one VARCHAR column per contract field (NULL
when absent). Typing is one SQL step per landing kind, shared by all formats, so NDJSON, CSV and
Parquet rows are judged by the same rules.

No single row may fail or lose the rest of its file: what a reader cannot read becomes an
unparseable row (quarantined as malformed), and a file no row of which can be read raises
UnreadableFileError for the loader to quarantine whole. docs/bad-input.md lists the cases.
"""

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
import numpy as np
import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.parquet as pq

from orchestration.sql_rows import one_row

FORMATS = {".ndjson": "ndjson", ".jsonl": "ndjson", ".csv": "csv", ".parquet": "parquet"}


def _ts(column: str) -> str:
    """ISO 8601 (with offset, or naive = UTC) or Unix seconds -> naive UTC timestamp, or NULL.

    Only years 1 to 9999 count as parsed: DuckDB also accepts 'infinity' and years up to 294247
    (or BC), which Python's datetime cannot hold, and polars panics when pandera reports such a
    row ("NaiveDateTime + TimeDelta overflowed"), failing the whole file. They become NULL, so
    the row is quarantined as bad_timestamp instead.
    """
    text = f"trim({column})"
    parsed = (
        f"cast(case when regexp_full_match({text}, '-?[0-9]{{1,12}}(\\.[0-9]+)?') "
        f"then try(to_timestamp(cast({text} as double))) "
        f"else try_cast({text} as timestamptz) end as timestamp)"
    )
    return (
        f"case when {parsed} between timestamp '0001-01-01' "
        f"and timestamp '9999-12-31 23:59:59.999999' then {parsed} end"
    )


@dataclass(frozen=True, slots=True)
class LandingKind:
    """One landing folder: its contract fields, how they are typed, keyed and stored."""

    name: str
    fields: tuple[str, ...]
    json_fields: tuple[str, ...]
    typing_sql: str  # select list over staged_text (after line_number, raw, is_parseable)
    key: tuple[str, ...]  # a row with the same key and payload is an exact duplicate
    payload: tuple[str, ...]  # typed columns hashed to tell exact from conflicting duplicates
    table_columns: tuple[tuple[str, str], ...]  # raw table DDL, before the lineage columns
    envelope: str | None = None  # Lago's API body wraps an event as {"event": {...}}
    # Payload columns added after the folder was first published: hashed only when given, so an
    # older row keeps its hash (and an exact duplicate of it is still an exact duplicate).
    optional_payload: tuple[str, ...] = ()


def _text(field: str) -> str:
    return f"nullif(trim({field}), '') as {field}"


# `properties` with invalid JSON swapped for 'null' (not an object). DuckDB may evaluate JSON
# functions on every row of a CASE or AND, so `json_valid(p) and json_type(p) = ...` failed the
# whole load on one CSV or Parquet row whose properties were not JSON (`{broken`).
_VALID_PROPERTIES = "(case when json_valid(properties) then properties else 'null' end)"

EVENTS = LandingKind(
    name="events",
    fields=(
        "transaction_id",
        "external_subscription_id",
        "code",
        "timestamp",
        "properties",
        "operation_type",
        "precise_total_amount",
    ),
    json_fields=("properties",),
    envelope="event",
    typing_sql=f"""
        {_text("transaction_id")},
        {_text("external_subscription_id")},
        {_text("code")},
        nullif(trim("timestamp"), '') as timestamp_text,
        {_ts('"timestamp"')} as event_timestamp,
        case
            when nullif(trim(properties), '') is null or trim(properties) = 'null' then '{{}}'
            when json_type({_VALID_PROPERTIES}) = 'OBJECT' then json({_VALID_PROPERTIES})
        end as properties,
        coalesce(
            nullif(trim(properties), '') is null
            or trim(properties) = 'null'
            or json_type({_VALID_PROPERTIES}) = 'OBJECT',
            false
        ) as properties_is_object,
        lower(nullif(trim(operation_type), '')) as operation_type,
        nullif(trim(precise_total_amount), '') as precise_total_amount_text,
        try_cast(nullif(trim(precise_total_amount), '') as decimal(38, 9)) as precise_total_amount,
        nullif(trim(precise_total_amount), '') is null
            or try_cast(trim(precise_total_amount) as decimal(38, 9)) is not null
            as precise_total_amount_is_number
    """,
    key=("external_subscription_id", "transaction_id"),
    payload=("code", "event_timestamp", "properties", "operation_type", "precise_total_amount"),
    table_columns=(
        ("transaction_id", "varchar not null"),
        ("external_subscription_id", "varchar not null"),
        ("code", "varchar not null"),
        ("event_timestamp", "timestamp not null"),
        ("properties", "json not null"),
        ("operation_type", "varchar"),
        ("precise_total_amount", "decimal(38, 9)"),
    ),
)

CUSTOMER_TEXT_FIELDS = (
    "external_customer_id",
    "name",
    "legal_name",
    "email",
    "address_line1",
    "address_line2",
    "city",
    "zipcode",
    "state",
    "country",
    "currency",
    "timezone",
    "tax_codes",
    "tax_identification_number",
    "document_locale",
)

CUSTOMERS = LandingKind(
    name="customers",
    fields=(*CUSTOMER_TEXT_FIELDS, "net_payment_term", "updated_at"),
    json_fields=(),
    typing_sql=",\n".join(
        [
            _text(f)
            for f in CUSTOMER_TEXT_FIELDS
            if f not in ("currency", "country", "document_locale")
        ]
        + [
            "upper(nullif(trim(currency), '')) as currency",
            "upper(nullif(trim(country), '')) as country",
            # "fr-CH" and "fr_CH" are the same locale; the document is written in its language.
            "replace(nullif(trim(document_locale), ''), '-', '_') as document_locale",
            "nullif(trim(net_payment_term), '') as net_payment_term_text",
            "case when regexp_full_match(trim(net_payment_term), '[0-9]{1,4}') "
            "then cast(trim(net_payment_term) as integer) end as net_payment_term",
            "nullif(trim(updated_at), '') as updated_at_text",
            f"{_ts('updated_at')} as updated_at",
        ]
    ),
    key=("external_customer_id", "updated_at"),
    # The locale and term came later: hashed only when given (see LandingKind.optional_payload).
    payload=tuple(f for f in CUSTOMER_TEXT_FIELDS if f != "document_locale"),
    optional_payload=("document_locale", "net_payment_term"),
    table_columns=(
        *(
            (f, "varchar not null" if f in ("external_customer_id", "currency") else "varchar")
            for f in CUSTOMER_TEXT_FIELDS
        ),
        ("net_payment_term", "integer"),
        ("updated_at", "timestamp"),
    ),
)

SUBSCRIPTIONS = LandingKind(
    name="subscriptions",
    fields=(
        "external_subscription_id",
        "external_customer_id",
        "plan_code",
        "billing_time",
        "subscription_at",
        "started_at",
        "terminated_at",
        "updated_at",
        "spend_cap_amount",
    ),
    json_fields=(),
    typing_sql=",\n".join(
        [
            _text("external_subscription_id"),
            _text("external_customer_id"),
            _text("plan_code"),
            "lower(nullif(trim(billing_time), '')) as billing_time",
        ]
        + [
            f"nullif(trim({f}), '') as {f}_text,\n{_ts(f)} as {f}"
            for f in ("subscription_at", "started_at", "terminated_at", "updated_at")
        ]
        # Meterhouse spend cap (docs/rules.md §12b), typed like `_decimal` below.
        + [
            "nullif(trim(spend_cap_amount), '') as spend_cap_amount_text,\n"
            "try_cast(nullif(trim(spend_cap_amount), '') as decimal(38, 9)) as spend_cap_amount"
        ]
    ),
    key=("external_subscription_id", "started_at", "updated_at"),
    payload=(
        "external_customer_id",
        "plan_code",
        "billing_time",
        "subscription_at",
        "terminated_at",
    ),
    # The spend cap came later: hashed only when given (see LandingKind.optional_payload).
    optional_payload=("spend_cap_amount",),
    table_columns=(
        ("external_subscription_id", "varchar not null"),
        ("external_customer_id", "varchar not null"),
        ("plan_code", "varchar not null"),
        ("billing_time", "varchar"),
        ("subscription_at", "timestamp"),
        ("started_at", "timestamp not null"),
        ("terminated_at", "timestamp"),
        ("updated_at", "timestamp"),
        ("spend_cap_amount", "decimal(38, 9)"),
    ),
)


def _decimal(field: str) -> str:
    """`<field>_text` (given or not) and `<field>` as decimal(38, 9) (NULL when not a number)."""
    text = f"nullif(trim({field}), '')"
    return f"{text} as {field}_text,\ntry_cast({text} as decimal(38, 9)) as {field}"


def _timestamp(field: str) -> str:
    """`<field>_text` (given or not) and `<field>` as a naive UTC timestamp, NULL if unparseable."""
    return f"nullif(trim({field}), '') as {field}_text,\n{_ts(field)} as {field}"


def _whole_number(field: str) -> str:
    """`<field>_text` and `<field>` as an integer: NULL unless a whole number ("3", "3.0")."""
    number = f"try_cast(trim({field}) as decimal(38, 9))"
    return (
        f"nullif(trim({field}), '') as {field}_text,\n"
        f"case when {number} = trunc({number}) then try_cast({number} as integer) end as {field}"
    )


def _pipe_list(field: str, lower: bool = False) -> str:
    """A `|`-separated list, items trimmed, de-duplicated and sorted; NULL when it has no item."""
    item = "lower(trim(item))" if lower else "trim(item)"
    items = f"list_filter(list_transform(string_split({field}, '|'), lambda item: {item}), "
    items += "lambda item: item <> '')"
    return f"nullif(array_to_string(list_sort(list_distinct({items})), '|'), '') as {field}"


APPLIED_COUPONS = LandingKind(
    name="applied_coupons",
    fields=(
        "external_customer_id",
        "coupon_code",
        "applied_at",
        "amount_override",
        "percentage_rate_override",
    ),
    json_fields=(),
    typing_sql=",\n".join(
        [
            _text("external_customer_id"),
            _text("coupon_code"),
            _timestamp("applied_at"),
            _decimal("amount_override"),
            _decimal("percentage_rate_override"),
        ]
    ),
    key=("external_customer_id", "coupon_code", "applied_at"),
    payload=("amount_override", "percentage_rate_override"),
    table_columns=(
        ("external_customer_id", "varchar not null"),
        ("coupon_code", "varchar not null"),
        ("applied_at", "timestamp not null"),
        ("amount_override", "decimal(38, 9)"),
        ("percentage_rate_override", "decimal(38, 9)"),
    ),
)

WALLETS = LandingKind(
    name="wallets",
    fields=(
        "wallet_code",
        "external_customer_id",
        "currency",
        "rate_amount",
        "priority",
        "allowed_line_types",
        "metric_codes",
        "created_at",
        "expires_at",
    ),
    json_fields=(),
    typing_sql=",\n".join(
        [
            _text("wallet_code"),
            _text("external_customer_id"),
            "upper(nullif(trim(currency), '')) as currency",
            _decimal("rate_amount"),
            _whole_number("priority"),  # empty stays NULL; staging applies Lago's default 50
            _pipe_list("allowed_line_types", lower=True),
            _pipe_list("metric_codes"),
            _timestamp("created_at"),
            _timestamp("expires_at"),
        ]
    ),
    key=("wallet_code",),
    payload=(
        "external_customer_id",
        "currency",
        "rate_amount",
        "priority",
        "allowed_line_types",
        "metric_codes",
        "created_at",
        "expires_at",
    ),
    table_columns=(
        ("wallet_code", "varchar not null"),
        ("external_customer_id", "varchar not null"),
        ("currency", "varchar not null"),
        ("rate_amount", "decimal(38, 9) not null"),
        ("priority", "integer"),
        ("allowed_line_types", "varchar"),
        ("metric_codes", "varchar"),
        ("created_at", "timestamp not null"),
        ("expires_at", "timestamp"),
    ),
)

WALLET_TRANSACTIONS = LandingKind(
    name="wallet_transactions",
    fields=("wallet_code", "transaction_type", "credits", "created_at", "paid_at"),
    json_fields=(),
    typing_sql=",\n".join(
        [
            _text("wallet_code"),
            "lower(nullif(trim(transaction_type), '')) as transaction_type",
            _decimal("credits"),
            _timestamp("created_at"),
            _timestamp("paid_at"),
        ]
    ),
    # A purchase's payment arrives as the same row re-sent with paid_at: a second raw row, not a
    # conflict (staging collapses the two). Everything is key, so the payload cannot differ.
    key=("wallet_code", "transaction_type", "created_at", "credits", "paid_at"),
    payload=("credits",),
    table_columns=(
        ("wallet_code", "varchar not null"),
        ("transaction_type", "varchar not null"),
        ("credits", "decimal(38, 9) not null"),
        ("created_at", "timestamp not null"),
        ("paid_at", "timestamp"),
    ),
)

CREDIT_NOTES = LandingKind(
    name="credit_notes",
    fields=("invoice_id", "invoice_number", "invoice_line_id", "amount", "reason", "created_at"),
    json_fields=(),
    typing_sql=",\n".join(
        [
            _text("invoice_id"),
            _text("invoice_number"),
            _text("invoice_line_id"),
            _decimal("amount"),
            _text("reason"),
            _timestamp("created_at"),
        ]
    ),
    key=("invoice_id", "invoice_number", "invoice_line_id", "created_at"),
    payload=("amount", "reason"),
    table_columns=(
        ("invoice_id", "varchar"),
        ("invoice_number", "varchar"),
        ("invoice_line_id", "varchar"),
        ("amount", "decimal(38, 9) not null"),
        ("reason", "varchar"),
        ("created_at", "timestamp not null"),
    ),
)

# Usage alerts (docs/inputs.md `alerts/`, docs/rules.md §21): one row per threshold. Values stay
# beside their text, so a threshold that is not a number rejects its whole alert in dbt (Lago
# creates an alert with all its thresholds or not at all) rather than loading the others alone.
ALERTS = LandingKind(
    name="alerts",
    fields=(
        "alert_code",
        "external_subscription_id",
        "wallet_code",
        "alert_type",
        "metric_code",
        "name",
        "threshold_code",
        "threshold_value",
        "recurring",
        "updated_at",
    ),
    json_fields=(),
    typing_sql=",\n".join(
        [
            _text("alert_code"),
            _text("external_subscription_id"),
            _text("wallet_code"),
            "lower(nullif(trim(alert_type), '')) as alert_type",
            _text("metric_code"),
            _text("name"),
            _text("threshold_code"),
            _decimal("threshold_value"),
            "nullif(trim(recurring), '') as recurring_text",
            "case when lower(trim(recurring)) in ('true', 't', '1', 'yes') then true "
            "when nullif(trim(recurring), '') is null "
            "or lower(trim(recurring)) in ('false', 'f', '0', 'no') then false end as recurring",
            _timestamp("updated_at"),
        ]
    ),
    # A version of an alert is all its rows of one updated_at; a row sent again is a duplicate.
    key=(
        "external_subscription_id",
        "wallet_code",
        "alert_code",
        "updated_at",
        "threshold_code",
        "threshold_value_text",
        "recurring_text",
    ),
    payload=("alert_type", "metric_code", "name"),
    table_columns=(
        ("alert_code", "varchar not null"),
        ("external_subscription_id", "varchar"),
        ("wallet_code", "varchar"),
        ("alert_type", "varchar"),
        ("metric_code", "varchar"),
        ("name", "varchar"),
        ("threshold_code", "varchar"),
        ("threshold_value_text", "varchar"),
        ("threshold_value", "decimal(38, 9)"),
        ("recurring_text", "varchar"),
        ("recurring", "boolean"),
        ("updated_at", "timestamp not null"),
    ),
)

LANDING_KINDS = {
    kind.name: kind
    for kind in (
        CUSTOMERS,
        SUBSCRIPTIONS,
        EVENTS,
        APPLIED_COUPONS,
        WALLETS,
        WALLET_TRANSACTIONS,
        CREDIT_NOTES,
        ALERTS,
    )
}


def landing_files(folder: Path) -> list[Path]:
    """Supported files of a landing folder, in load order (lexicographic by relative path)."""
    if not folder.is_dir():
        return []
    return sorted(
        (p for p in folder.rglob("*") if p.is_file() and p.suffix.lower() in FORMATS),
        key=lambda p: p.relative_to(folder).as_posix(),
    )


def sql_string(value: str) -> str:
    """A SQL string literal: DuckDB table functions take file paths as literals, not parameters."""
    return "'" + value.replace("'", "''") + "'"


# Longest CSV record read; DuckDB's default is 2 MB, and a longer one used to fail the whole file.
# A record past this is quarantined as malformed, and the rest of the file loads.
MAX_LINE_BYTES = 64 * 1024 * 1024

# DuckDB's CSV reader skips what it cannot read (bytes that are not UTF-8, a record over
# MAX_LINE_BYTES, too many or too few fields) and records it here, instead of failing the file.
REJECTS = "store_rejects = true, rejects_table = 'reader_rejects', rejects_scan = 'reader_scans'"


class UnreadableFileError(Exception):
    """No row of the file can be read (not the format its name says, truncated, binary)."""


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


def _split_lines(data: bytes) -> pa.LargeBinaryArray:
    """The lines of `data` (split on LF, without the LF or a CR before it), as one Arrow array.

    Zero-copy over `data` up to the final slices: numpy finds the line ends, and Arrow views the
    bytes between them (splitting in Python, or trimming in SQL, took seconds per 500k lines).
    """
    if data and not data.endswith(b"\n"):
        data += b"\n"
    buffer = np.frombuffer(data, np.uint8)
    ends = np.flatnonzero(buffer == ord("\n"))
    offsets = np.concatenate(([0], ends + 1)).astype(np.int64)
    lines = pa.LargeBinaryArray.from_buffers(
        pa.large_binary(), len(ends), [None, pa.py_buffer(offsets), pa.py_buffer(data)]
    )
    lines = pc.binary_slice(lines, 0, -1)  # the LF
    if b"\r" in data:
        has_cr = (ends > offsets[:-1]) & (buffer[ends - 1] == ord("\r"))
        lines = pc.if_else(pa.array(has_cr), pc.binary_slice(lines, 0, -1), lines)
    return lines


def _read_lines(conn: duckdb.DuckDBPyConnection, path: Path) -> None:
    """Create temp table `staged_lines(line_number, line, is_utf8)`: the file's lines.

    Split as bytes and decoded per line (DuckDB), not with DuckDB's CSV reader: that reader
    failed the whole file on one line that is not UTF-8, over 2 MB, or holding a lone CR.
    A line that is not UTF-8 gets its bytes spelled as escapes (`caf\\xe9`) as its text and
    is_utf8 false, and is quarantined as malformed. A leading UTF-8 byte-order mark is dropped.
    """
    lines = _split_lines(path.read_bytes().removeprefix(codecs.BOM_UTF8))
    numbered = pa.table(
        {"line_number": pa.array(np.arange(1, len(lines) + 1, dtype=np.int64)), "line": lines}
    )
    conn.register("file_lines", numbered)
    conn.execute(
        """
        create or replace temp table staged_lines as
        select line_number, try(decode(line)) as line, true as is_utf8
        from file_lines
        """
    )
    conn.unregister("file_lines")
    undecodable = [
        n
        for (n,) in conn.execute(
            "select line_number from staged_lines where line is null order by line_number"
        ).fetchall()
    ]
    if undecodable:
        texts = [lines[n - 1].as_py().decode("utf-8", "backslashreplace") for n in undecodable]
        conn.register("undecodable", pa.table({"line_number": undecodable, "line": texts}))
        conn.execute(
            "update staged_lines set line = undecodable.line, is_utf8 = false from undecodable "
            "where staged_lines.line_number = undecodable.line_number"
        )
        conn.unregister("undecodable")


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
    return ", ".join(f"{_identifier(c)} := {_identifier(c)}" for c in source_columns)


ROW_NUMBER = "__mh_row_number"


def _identifier(name: str) -> str:
    """A quoted SQL identifier (a column name from a landing file may hold quotes)."""
    return '"' + name.replace('"', '""') + '"'


def stage_file(conn: duckdb.DuckDBPyConnection, kind: LandingKind, path: Path) -> None:
    """Create temp table `staged_text` from one file (all contract fields as text).

    `has_nested_value` flags a row whose scalar field holds a JSON object or array (or a Parquet
    struct, list or map): such a row is quarantined as bad_value rather than billed with the JSON
    text as, say, its transaction_id. JSON numbers and booleans are taken as their text.
    """
    fmt = FORMATS[path.suffix.lower()]
    if fmt == "ndjson":
        _read_lines(conn, path)
        body = "json(valid_line)"
        if kind.envelope:
            body = (
                f"case when json_type(valid_line, '$.{kind.envelope}') = 'OBJECT' "
                f"then json_extract(valid_line, '$.{kind.envelope}') else json(valid_line) end"
            )
        extract = ",\n".join(
            f'json_extract(body, \'$."{f}"\')::varchar as "{f}"'
            if f in kind.json_fields
            else f'json_extract_string(body, \'$."{f}"\') as "{f}"'
            for f in kind.fields
        )
        # One json_type call for every scalar field: each call parses the line again.
        scalar_paths = ", ".join(f"'$.\"{f}\"'" for f in kind.fields if f not in kind.json_fields)
        nested = (
            f"coalesce(list_has_any(json_type(body, [{scalar_paths}]), ['OBJECT', 'ARRAY']), false)"
        )
        conn.execute(
            f"""
            create or replace temp table staged_text as
            with lines as (
                -- DuckDB may evaluate JSON functions on every row of a CASE, so invalid text is
                -- swapped for an empty object before any JSON function sees it.
                select
                    line_number,
                    line as raw,
                    is_utf8 and coalesce(json_valid(line), false) as is_valid_json,
                    case when is_utf8 and json_valid(line) then line else '{{}}' end as valid_line
                from staged_lines
                where line is not null and trim(line) <> ''
            ),

            parsed as (
                select
                    line_number,
                    raw,
                    is_valid_json and json_type(valid_line) = 'OBJECT' as is_parseable,
                    case
                        when is_valid_json and json_type(valid_line) = 'OBJECT' then {body}
                    end as body
                from lines
            )
            select line_number, raw, is_parseable, {nested} as has_nested_value, {extract}
            from parsed
            """
        )
        conn.execute("drop table staged_lines")
        return

    if fmt == "csv":
        _stage_csv(conn, kind, path)
    else:
        struct = _read_parquet(conn, path)
        select = _select_fields(conn, kind, "parquet_source", f"to_json(struct_pack({struct}))")
        conn.execute(
            f"""
            create or replace temp table staged_text as
            select {ROW_NUMBER} + 1 as line_number, {select}
            from parquet_source
            """
        )
        conn.unregister("parquet_source")


def _select_fields(
    conn: duckdb.DuckDBPyConnection, kind: LandingKind, reader: str, raw: str
) -> str:
    """The select list that turns `reader`'s rows into `staged_text` rows (after line_number).

    `raw` is the row as JSON text. Binary (Parquet) fields are decoded; one that is not UTF-8
    makes the row unparseable. A struct, list or map in a scalar field sets has_nested_value.
    """
    try:
        described = conn.execute(f"describe select * from {reader}").fetchall()
    except duckdb.InvalidInputException as error:  # not a CSV file at all (binary)
        raise UnreadableFileError(str(error)) from error
    available = {row[0]: row[1] for row in described}

    def is_nested(field: str) -> bool:
        # DuckDB spells LIST `T[]`, ARRAY `T[n]`, and STRUCT(...), MAP(...), UNION(...).
        data_type = available.get(field, "")
        return field not in kind.json_fields and (
            data_type.endswith("]") or data_type.startswith(("STRUCT", "MAP", "UNION"))
        )

    def column(field: str) -> str:
        if field not in available:
            return f'cast(null as varchar) as "{field}"'
        if available[field] == "VARCHAR":
            return f'"{field}"'
        if available[field] == "BLOB":  # Parquet binary: text only if it is UTF-8
            return f'try(decode("{field}")) as "{field}"'
        if field in kind.json_fields:
            return f'to_json("{field}")::varchar as "{field}"'
        return f'cast("{field}" as varchar) as "{field}"'

    undecodable = [
        f'("{f}" is not null and try(decode("{f}")) is null)'
        for f in kind.fields
        if available.get(f) == "BLOB"
    ]
    parseable = f"not ({' or '.join(undecodable)})" if undecodable else "true"
    nested = [f'"{f}" is not null' for f in kind.fields if is_nested(f)]
    has_nested_value = " or ".join(nested) if nested else "false"
    return (
        f"{raw}::varchar as raw, {parseable} as is_parseable, "
        f"{has_nested_value} as has_nested_value, {', '.join(column(f) for f in kind.fields)}"
    )


def _stage_csv(conn: duckdb.DuckDBPyConnection, kind: LandingKind, path: Path) -> None:
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
        select = _select_fields(conn, kind, reader, "to_json(source_row)")
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
