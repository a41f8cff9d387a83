"""The landing kinds of docs/inputs.md: each folder's fields, typing SQL, key and raw table."""

from dataclasses import dataclass

from orchestration.landing.readers.field_sql import (
    decimal_field,
    parse_timestamp,
    pipe_list_field,
    text_field,
    timestamp_field,
    whole_number_field,
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
        {text_field("transaction_id")},
        {text_field("external_subscription_id")},
        {text_field("code")},
        nullif(trim("timestamp"), '') as timestamp_text,
        {parse_timestamp('"timestamp"')} as event_timestamp,
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
            text_field(f)
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
            f"{parse_timestamp('updated_at')} as updated_at",
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
            text_field("external_subscription_id"),
            text_field("external_customer_id"),
            text_field("plan_code"),
            "lower(nullif(trim(billing_time), '')) as billing_time",
        ]
        + [
            f"nullif(trim({f}), '') as {f}_text,\n{parse_timestamp(f)} as {f}"
            for f in ("subscription_at", "started_at", "terminated_at", "updated_at")
        ]
        # Meterhouse spend cap (docs/rules.md §12b), typed like the `decimal_field` columns below.
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
            text_field("external_customer_id"),
            text_field("coupon_code"),
            timestamp_field("applied_at"),
            decimal_field("amount_override"),
            decimal_field("percentage_rate_override"),
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
            text_field("wallet_code"),
            text_field("external_customer_id"),
            "upper(nullif(trim(currency), '')) as currency",
            decimal_field("rate_amount"),
            whole_number_field("priority"),  # empty stays NULL; staging applies Lago's default 50
            pipe_list_field("allowed_line_types", lower=True),
            pipe_list_field("metric_codes"),
            timestamp_field("created_at"),
            timestamp_field("expires_at"),
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
            text_field("wallet_code"),
            "lower(nullif(trim(transaction_type), '')) as transaction_type",
            decimal_field("credits"),
            timestamp_field("created_at"),
            timestamp_field("paid_at"),
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
            text_field("invoice_id"),
            text_field("invoice_number"),
            text_field("invoice_line_id"),
            decimal_field("amount"),
            text_field("reason"),
            timestamp_field("created_at"),
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
            text_field("alert_code"),
            text_field("external_subscription_id"),
            text_field("wallet_code"),
            "lower(nullif(trim(alert_type), '')) as alert_type",
            text_field("metric_code"),
            text_field("name"),
            text_field("threshold_code"),
            decimal_field("threshold_value"),
            "nullif(trim(recurring), '') as recurring_text",
            "case when lower(trim(recurring)) in ('true', 't', '1', 'yes') then true "
            "when nullif(trim(recurring), '') is null "
            "or lower(trim(recurring)) in ('false', 'f', '0', 'no') then false end as recurring",
            timestamp_field("updated_at"),
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
