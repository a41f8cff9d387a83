"""What a valid landing row is: one pandera schema per landing folder (docs/inputs.md,
docs/bad-input.md).

DuckDB parses and types each file (fast, set-based); these schemas then state, column by column,
which typed rows are billable. Every check is named after the quarantine reason it produces, so a
failing row lands in `rejected_inputs` with that reason. Checks are listed in priority order: a row
failing several is quarantined for the first.
"""

import csv
import zoneinfo
from datetime import datetime
from functools import cache

import pandera.polars as pa
import polars as pl

from invoice_render.i18n import DOCUMENT_LOCALE_PATTERN
from orchestration.settings import REPO_ROOT

REASON_DETAILS = {
    "malformed": "the row could not be parsed (broken JSON or CSV)",
    "missing_field": "a required field is missing or empty",
    "bad_timestamp": "a timestamp is not ISO 8601 / Unix seconds, or is before 1970",
    "future_timestamp": "the timestamp is more than a day after the time it was loaded",
    "bad_value": "a field has a value outside its allowed set or type",
    "conflicting_duplicate": "the same key was loaded before with a different payload",
    "unknown_metric": "the event code is not a billable metric of the catalog",
    "unknown_subscription": "no subscription has this external_subscription_id",
    "unknown_customer": "the subscription's customer is not in customers/",
    "unknown_plan": "the subscription's plan_code is not in the catalog",
    "currency_mismatch": "the plan's currency differs from the customer's currency",
}
# Priority order of the checks; a row failing several is reported under the first.
REASON_PRIORITY = list(REASON_DETAILS)

EARLIEST_TIMESTAMP = datetime(1970, 1, 2)


@cache
def known_currencies() -> frozenset[str]:
    """ISO 4217 codes that ship with the project (seeds/reference/currencies.csv)."""
    with (REPO_ROOT / "seeds" / "reference" / "currencies.csv").open(newline="") as handle:
        return frozenset(row["currency"] for row in csv.DictReader(handle))


@cache
def known_timezones() -> frozenset[str]:
    """IANA timezone names."""
    return frozenset(zoneinfo.available_timezones())


def _present(*columns: str) -> pa.Check:
    def check(data: pa.PolarsData) -> pl.LazyFrame:
        expr = pl.lit(True)
        for column in columns:
            expr = expr & pl.col(column).is_not_null() & (pl.col(column).str.strip_chars() != "")
        return data.lazyframe.select(expr)

    # The columns travel with the check, so a rejection can name the one that is missing.
    return pa.Check(
        check, name="missing_field", error="missing_field", statistics={"columns": columns}
    )


def _one_present(*columns: str) -> pa.Check:
    """missing_field unless at least one of `columns` is given."""
    given = pl.any_horizontal(pl.col(column).is_not_null() for column in columns)
    return pa.Check(
        lambda data: data.lazyframe.select(given),
        name="missing_field",
        error="missing_field",
        statistics={"one_of": columns},
    )


def _row_check(reason: str, expr: pl.Expr) -> pa.Check:
    return pa.Check(lambda data: data.lazyframe.select(expr), name=reason, error=reason)


def _parsed_when_given(text_column: str, typed_column: str) -> pl.Expr:
    return pl.col(text_column).is_null() | pl.col(typed_column).is_not_null()


def _not_before_1970(column: str) -> pl.Expr:
    return pl.col(column).is_null() | (pl.col(column) >= EARLIEST_TIMESTAMP)


def with_scalar_fields(schema: pa.DataFrameSchema) -> pa.DataFrameSchema:
    """`schema`, plus: a scalar field given as a JSON object or array is a bad_value.

    Shared by every landing folder (the reader flags such rows as `has_nested_value`), so that an
    object sent as, say, a transaction_id is quarantined instead of billed under its JSON text.
    """
    return pa.DataFrameSchema(
        columns={**schema.columns, "has_nested_value": pa.Column(pl.Boolean)},
        checks=[*schema.checks, _row_check("bad_value", ~pl.col("has_nested_value"))],
        # pandera types the attribute (bool | str) wider than the argument (bool | "filter").
        strict=schema.strict,  # type: ignore[arg-type]
    )


def event_schema(latest_allowed: datetime) -> pa.DataFrameSchema:
    """A usage event (docs/inputs.md `events/`), typed by DuckDB as in `readers.kinds.EVENTS`."""
    return pa.DataFrameSchema(
        columns={
            "is_parseable": pa.Column(pl.Boolean),
            "transaction_id": pa.Column(pl.Utf8, nullable=True),
            "external_subscription_id": pa.Column(pl.Utf8, nullable=True),
            "code": pa.Column(pl.Utf8, nullable=True),
            "timestamp_text": pa.Column(pl.Utf8, nullable=True),
            "event_timestamp": pa.Column(pl.Datetime("us"), nullable=True),
            "properties_is_object": pa.Column(pl.Boolean),
            "operation_type": pa.Column(pl.Utf8, nullable=True),
            "precise_total_amount_text": pa.Column(pl.Utf8, nullable=True),
            "precise_total_amount_is_number": pa.Column(pl.Boolean),
        },
        checks=[
            _row_check("malformed", pl.col("is_parseable")),
            _present("transaction_id", "external_subscription_id", "code", "timestamp_text"),
            _row_check(
                "bad_timestamp",
                pl.col("event_timestamp").is_not_null() & _not_before_1970("event_timestamp"),
            ),
            _row_check(
                "future_timestamp",
                pl.col("event_timestamp").is_null() | (pl.col("event_timestamp") <= latest_allowed),
            ),
            _row_check(
                "bad_value",
                pl.col("properties_is_object")
                & pl.col("precise_total_amount_is_number")
                & (
                    pl.col("operation_type").is_null()
                    | pl.col("operation_type").is_in(["add", "remove"])
                )
                & (pl.col("transaction_id").str.len_chars() <= 255),
            ),
        ],
        strict=False,
    )


def customer_schema() -> pa.DataFrameSchema:
    """A customer row (docs/inputs.md `customers/`)."""
    return pa.DataFrameSchema(
        columns={
            "is_parseable": pa.Column(pl.Boolean),
            "external_customer_id": pa.Column(pl.Utf8, nullable=True),
            "currency": pa.Column(pl.Utf8, nullable=True),
            "country": pa.Column(pl.Utf8, nullable=True),
            "timezone": pa.Column(pl.Utf8, nullable=True),
            "document_locale": pa.Column(pl.Utf8, nullable=True),
            "net_payment_term_text": pa.Column(pl.Utf8, nullable=True),
            "net_payment_term": pa.Column(pl.Int32, nullable=True),
            "updated_at_text": pa.Column(pl.Utf8, nullable=True),
            "updated_at": pa.Column(pl.Datetime("us"), nullable=True),
        },
        checks=[
            _row_check("malformed", pl.col("is_parseable")),
            _present("external_customer_id", "currency"),
            _row_check(
                "bad_timestamp",
                _parsed_when_given("updated_at_text", "updated_at")
                & _not_before_1970("updated_at"),
            ),
            _row_check(
                "bad_value",
                pl.col("currency").is_in(sorted(known_currencies()))
                & (pl.col("country").is_null() | pl.col("country").str.contains(r"^[A-Z]{2}$"))
                & (
                    pl.col("timezone").is_null()
                    | pl.col("timezone").is_in(sorted(known_timezones()))
                ),
            ),
            # A locale the documents can be written in; days from 0 to 9999 (docs/invoices.md).
            _row_check(
                "bad_value",
                (
                    pl.col("document_locale").is_null()
                    | pl.col("document_locale").str.contains(f"(?i)^{DOCUMENT_LOCALE_PATTERN}$")
                )
                & _parsed_when_given("net_payment_term_text", "net_payment_term"),
            ),
        ],
        strict=False,
    )


def subscription_schema() -> pa.DataFrameSchema:
    """A subscription phase (docs/inputs.md `subscriptions/`)."""
    return pa.DataFrameSchema(
        columns={
            "is_parseable": pa.Column(pl.Boolean),
            "external_subscription_id": pa.Column(pl.Utf8, nullable=True),
            "external_customer_id": pa.Column(pl.Utf8, nullable=True),
            "plan_code": pa.Column(pl.Utf8, nullable=True),
            "billing_time": pa.Column(pl.Utf8, nullable=True),
            "started_at_text": pa.Column(pl.Utf8, nullable=True),
            "started_at": pa.Column(pl.Datetime("us"), nullable=True),
            "subscription_at_text": pa.Column(pl.Utf8, nullable=True),
            "subscription_at": pa.Column(pl.Datetime("us"), nullable=True),
            "terminated_at_text": pa.Column(pl.Utf8, nullable=True),
            "terminated_at": pa.Column(pl.Datetime("us"), nullable=True),
            "updated_at_text": pa.Column(pl.Utf8, nullable=True),
            "updated_at": pa.Column(pl.Datetime("us"), nullable=True),
            "spend_cap_amount_text": pa.Column(pl.Utf8, nullable=True),
            "spend_cap_amount": pa.Column(pl.Decimal(38, 9), nullable=True),
        },
        checks=[
            _row_check("malformed", pl.col("is_parseable")),
            _present(
                "external_subscription_id", "external_customer_id", "plan_code", "started_at_text"
            ),
            _row_check(
                "bad_timestamp",
                pl.col("started_at").is_not_null()
                & _not_before_1970("started_at")
                & _parsed_when_given("subscription_at_text", "subscription_at")
                & _parsed_when_given("terminated_at_text", "terminated_at")
                & _parsed_when_given("updated_at_text", "updated_at"),
            ),
            _row_check(
                "bad_value",
                pl.col("billing_time").is_null()
                | pl.col("billing_time").is_in(["calendar", "anniversary"]),
            ),
            _row_check(
                "bad_value",
                pl.col("terminated_at").is_null()
                | (pl.col("terminated_at") >= pl.col("started_at")),
            ),
            # A spend cap (docs/rules.md §12b), when given, is a decimal of at least 0.
            _row_check(
                "bad_value",
                _parsed_when_given("spend_cap_amount_text", "spend_cap_amount")
                & (pl.col("spend_cap_amount").is_null() | (pl.col("spend_cap_amount") >= 0)),
            ),
        ],
        strict=False,
    )


# Invoice line types a wallet may pay for (docs/rules.md §15, `allowed_fee_types`); none = all.
WALLET_LINE_TYPES = ("subscription", "charge", "commitment", "spending_minimum")
WALLET_TRANSACTION_TYPES = ("purchased", "granted", "voided")

_DECIMAL = pl.Decimal(38, 9)
_TIMESTAMP = pl.Datetime("us")


def _required_timestamp(column: str) -> pl.Expr:
    return pl.col(column).is_not_null() & _not_before_1970(column)


def _optional_timestamp(column: str) -> pl.Expr:
    return _parsed_when_given(f"{column}_text", column) & _not_before_1970(column)


def _number_when_given(column: str) -> pl.Expr:
    """Given as text and parsed to a decimal, or not given at all."""
    return _parsed_when_given(f"{column}_text", column)


def _at_least(column: str, minimum: int) -> pl.Expr:
    return pl.col(column).is_null() | (pl.col(column) >= minimum)


def _above_zero(column: str) -> pl.Expr:
    return pl.col(column).is_not_null() & (pl.col(column) > 0)


def _items_in(column: str, allowed: tuple[str, ...]) -> pl.Expr:
    """Every `|`-separated item of a list column is allowed (an absent list is)."""
    return pl.col(column).is_null() | (
        pl.col(column).str.split("|").list.eval(pl.element().is_in(list(allowed))).list.all()
    )


def applied_coupon_schema() -> pa.DataFrameSchema:
    """A coupon applied to a customer (docs/inputs.md `applied_coupons/`)."""
    return pa.DataFrameSchema(
        columns={
            "is_parseable": pa.Column(pl.Boolean),
            "external_customer_id": pa.Column(pl.Utf8, nullable=True),
            "coupon_code": pa.Column(pl.Utf8, nullable=True),
            "applied_at_text": pa.Column(pl.Utf8, nullable=True),
            "applied_at": pa.Column(_TIMESTAMP, nullable=True),
            "amount_override_text": pa.Column(pl.Utf8, nullable=True),
            "amount_override": pa.Column(_DECIMAL, nullable=True),
            "percentage_rate_override_text": pa.Column(pl.Utf8, nullable=True),
            "percentage_rate_override": pa.Column(_DECIMAL, nullable=True),
        },
        checks=[
            _row_check("malformed", pl.col("is_parseable")),
            _present("external_customer_id", "coupon_code", "applied_at_text"),
            _row_check("bad_timestamp", _required_timestamp("applied_at")),
            _row_check(
                "bad_value",
                _number_when_given("amount_override")
                & _number_when_given("percentage_rate_override")
                & _at_least("amount_override", 0)
                & _at_least("percentage_rate_override", 0)
                & (
                    pl.col("percentage_rate_override").is_null()
                    | (pl.col("percentage_rate_override") <= 100)
                ),
            ),
        ],
        strict=False,
    )


def wallet_schema() -> pa.DataFrameSchema:
    """A prepaid-credit wallet (docs/inputs.md `wallets/`)."""
    return pa.DataFrameSchema(
        columns={
            "is_parseable": pa.Column(pl.Boolean),
            "wallet_code": pa.Column(pl.Utf8, nullable=True),
            "external_customer_id": pa.Column(pl.Utf8, nullable=True),
            "currency": pa.Column(pl.Utf8, nullable=True),
            "rate_amount_text": pa.Column(pl.Utf8, nullable=True),
            "rate_amount": pa.Column(_DECIMAL, nullable=True),
            "priority_text": pa.Column(pl.Utf8, nullable=True),
            "priority": pa.Column(pl.Int32, nullable=True),
            "allowed_line_types": pa.Column(pl.Utf8, nullable=True),
            "created_at_text": pa.Column(pl.Utf8, nullable=True),
            "created_at": pa.Column(_TIMESTAMP, nullable=True),
            "expires_at_text": pa.Column(pl.Utf8, nullable=True),
            "expires_at": pa.Column(_TIMESTAMP, nullable=True),
        },
        checks=[
            _row_check("malformed", pl.col("is_parseable")),
            _present(
                "wallet_code",
                "external_customer_id",
                "currency",
                "rate_amount_text",
                "created_at_text",
            ),
            _row_check(
                "bad_timestamp",
                _required_timestamp("created_at") & _optional_timestamp("expires_at"),
            ),
            _row_check(
                "bad_value",
                pl.col("currency").is_in(sorted(known_currencies())).fill_null(False)
                & _above_zero("rate_amount")
                & _parsed_when_given("priority_text", "priority")
                & _at_least("priority", 1)
                & _items_in("allowed_line_types", WALLET_LINE_TYPES),
            ),
            _row_check(
                "bad_value",
                pl.col("expires_at").is_null()
                | (pl.col("expires_at") >= pl.col("created_at")).fill_null(False),
            ),
        ],
        strict=False,
    )


def wallet_transaction_schema() -> pa.DataFrameSchema:
    """A credit movement of a wallet (docs/inputs.md `wallet_transactions/`)."""
    return pa.DataFrameSchema(
        columns={
            "is_parseable": pa.Column(pl.Boolean),
            "wallet_code": pa.Column(pl.Utf8, nullable=True),
            "transaction_type": pa.Column(pl.Utf8, nullable=True),
            "credits_text": pa.Column(pl.Utf8, nullable=True),
            "credits": pa.Column(_DECIMAL, nullable=True),
            "created_at_text": pa.Column(pl.Utf8, nullable=True),
            "created_at": pa.Column(_TIMESTAMP, nullable=True),
            "paid_at_text": pa.Column(pl.Utf8, nullable=True),
            "paid_at": pa.Column(_TIMESTAMP, nullable=True),
        },
        checks=[
            _row_check("malformed", pl.col("is_parseable")),
            _present("wallet_code", "transaction_type", "credits_text", "created_at_text"),
            _row_check(
                "bad_timestamp",
                _required_timestamp("created_at") & _optional_timestamp("paid_at"),
            ),
            _row_check(
                "bad_value",
                pl.col("transaction_type").is_in(WALLET_TRANSACTION_TYPES).fill_null(False)
                & _above_zero("credits")
                # Only a purchase is paid for; granted and voided credits settle at once.
                & (pl.col("paid_at_text").is_null() | (pl.col("transaction_type") == "purchased")),
            ),
        ],
        strict=False,
    )


def credit_note_schema() -> pa.DataFrameSchema:
    """A manual credit note on a finalized invoice (docs/inputs.md `credit_notes/`)."""
    return pa.DataFrameSchema(
        columns={
            "is_parseable": pa.Column(pl.Boolean),
            "invoice_id": pa.Column(pl.Utf8, nullable=True),
            "invoice_number": pa.Column(pl.Utf8, nullable=True),
            "invoice_line_id": pa.Column(pl.Utf8, nullable=True),
            "amount_text": pa.Column(pl.Utf8, nullable=True),
            "amount": pa.Column(_DECIMAL, nullable=True),
            "created_at_text": pa.Column(pl.Utf8, nullable=True),
            "created_at": pa.Column(_TIMESTAMP, nullable=True),
        },
        checks=[
            _row_check("malformed", pl.col("is_parseable")),
            _present("amount_text", "created_at_text"),
            _one_present("invoice_id", "invoice_number"),
            _row_check("bad_timestamp", _required_timestamp("created_at")),
            _row_check("bad_value", _above_zero("amount")),
        ],
        strict=False,
    )


def alert_schema() -> pa.DataFrameSchema:
    """A threshold of a usage alert (docs/inputs.md `alerts/`): only what ties the row to an
    alert version is judged here. Types, values and Lago's limits are judged per alert in dbt
    (int_alerts_validated), so one bad threshold rejects its whole alert, as Lago does."""
    return pa.DataFrameSchema(
        columns={
            "is_parseable": pa.Column(pl.Boolean),
            "alert_code": pa.Column(pl.Utf8, nullable=True),
            "external_subscription_id": pa.Column(pl.Utf8, nullable=True),
            "wallet_code": pa.Column(pl.Utf8, nullable=True),
            "updated_at_text": pa.Column(pl.Utf8, nullable=True),
            "updated_at": pa.Column(_TIMESTAMP, nullable=True),
        },
        checks=[
            _row_check("malformed", pl.col("is_parseable")),
            _present("alert_code", "updated_at_text"),
            _one_present("external_subscription_id", "wallet_code"),
            _row_check("bad_timestamp", _required_timestamp("updated_at")),
        ],
        strict=False,
    )
