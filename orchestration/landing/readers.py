"""Read a landing file of any supported format into uniform text rows, then type them.

Every format becomes the relation `staged_text`: `line_number`, `raw` (the row as text, kept for
quarantine), `is_parseable` and one VARCHAR column per contract field (NULL when absent). Typing
is one SQL step per landing kind, shared by all formats, so NDJSON, CSV and Parquet rows are judged
by the same rules.
"""

from dataclasses import dataclass
from pathlib import Path

import duckdb

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
)

CUSTOMERS = LandingKind(
    name="customers",
    fields=(*CUSTOMER_TEXT_FIELDS, "updated_at"),
    json_fields=(),
    typing_sql=",\n".join(
        [_text(f) for f in CUSTOMER_TEXT_FIELDS if f not in ("currency", "country")]
        + [
            "upper(nullif(trim(currency), '')) as currency",
            "upper(nullif(trim(country), '')) as country",
            "nullif(trim(updated_at), '') as updated_at_text",
            f"{_ts('updated_at')} as updated_at",
        ]
    ),
    key=("external_customer_id", "updated_at"),
    payload=CUSTOMER_TEXT_FIELDS,
    table_columns=(
        *(
            (f, "varchar not null" if f in ("external_customer_id", "currency") else "varchar")
            for f in CUSTOMER_TEXT_FIELDS
        ),
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
    ),
    key=("external_subscription_id", "started_at", "updated_at"),
    payload=(
        "external_customer_id",
        "plan_code",
        "billing_time",
        "subscription_at",
        "terminated_at",
    ),
    table_columns=(
        ("external_subscription_id", "varchar not null"),
        ("external_customer_id", "varchar not null"),
        ("plan_code", "varchar not null"),
        ("billing_time", "varchar"),
        ("subscription_at", "timestamp"),
        ("started_at", "timestamp not null"),
        ("terminated_at", "timestamp"),
        ("updated_at", "timestamp"),
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


def stage_file(conn: duckdb.DuckDBPyConnection, kind: LandingKind, path: Path) -> None:
    """Create temp table `staged_text` from one file (all contract fields as text)."""
    fmt = FORMATS[path.suffix.lower()]
    source = sql_string(str(path))
    if fmt == "ndjson":
        conn.execute(
            f"""
            create or replace temp table staged_lines as
            select row_number() over () as line_number, line
            from read_csv({source}, columns = {{'line': 'VARCHAR'}}, header = false,
                          delim = E'\\x01', quote = '', escape = '', parallel = false,
                          auto_detect = false)
            """
        )
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
        conn.execute(
            f"""
            create or replace temp table staged_text as
            with lines as (
                -- DuckDB may evaluate JSON functions on every row of a CASE, so invalid text is
                -- swapped for an empty object before any JSON function sees it.
                select
                    line_number,
                    line as raw,
                    coalesce(json_valid(line), false) as is_valid_json,
                    case when json_valid(line) then line else '{{}}' end as valid_line
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
            select line_number, raw, is_parseable, {extract}
            from parsed
            """
        )
        conn.execute("drop table staged_lines")
        return

    if fmt == "csv":
        reader = (
            f"read_csv({source}, header = true, all_varchar = true, parallel = false, "
            "store_rejects = true, rejects_table = 'csv_rejects', rejects_scan = 'csv_scans')"
        )
    else:
        reader = f"read_parquet({source}, file_row_number = true)"
    available = {
        row[0]: row[1] for row in conn.execute(f"describe select * from {reader}").fetchall()
    }

    def column(field: str) -> str:
        if field not in available:
            return f'cast(null as varchar) as "{field}"'
        if available[field] == "VARCHAR":
            return f'"{field}"'
        if field in kind.json_fields:
            return f'to_json("{field}")::varchar as "{field}"'
        return f'cast("{field}" as varchar) as "{field}"'

    # CSV: record number + 1 for the header line; Parquet: 0-based row number + 1.
    ordinal = "file_row_number" if fmt == "parquet" else "row_number() over ()"
    conn.execute(
        f"""
        create or replace temp table staged_text as
        select
            {ordinal} + 1 as line_number,
            to_json(source_row)::varchar as raw,
            true as is_parseable,
            {", ".join(column(f) for f in kind.fields)}
        from {reader} as source_row
        """
    )
    if fmt == "csv":
        # Records DuckDB's CSV reader could not split: quarantined as malformed, with their line.
        conn.execute(
            "insert into staged_text (line_number, raw, is_parseable) "
            "select distinct line, csv_line, false from csv_rejects"
        )
        conn.execute("drop table if exists csv_rejects; drop table if exists csv_scans")
