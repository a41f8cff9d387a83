"""Published mart rows in Lago's response shapes (lago-api `app/serializers/v1`).

Amounts become Lago's integer `*_cents` in the currency's minor unit; decimal quantities
(units, credits) become decimal strings, as Lago sends them. Identifiers Meterhouse does not have
(`lago_id` of a customer, subscription or event) are stable UUIDs derived from the external ids.
"""

import hashlib
import uuid
from datetime import date, datetime
from decimal import Decimal
from functools import lru_cache

from orchestration.api.catalog import Catalog
from orchestration.api.marts import to_cents

NAMESPACE = uuid.UUID("6f1d3f0e-5a43-4c1e-9d59-2b1f4a7e0c11")


@lru_cache(maxsize=65536)
def lago_id(kind: str, *parts: str) -> str:
    return str(uuid.uuid5(NAMESPACE, "|".join((kind, *parts))))


def event_lago_id(external_subscription_id: str, transaction_id: str) -> str:
    """A stable UUID-shaped id of an event (BLAKE2b: uuid5 cost ~25 µs an event on a batch)."""
    digest = hashlib.blake2b(
        f"{external_subscription_id}\x1f{transaction_id}".encode(), digest_size=16
    ).hexdigest()
    return f"{digest[:8]}-{digest[8:12]}-{digest[12:16]}-{digest[16:20]}-{digest[20:]}"


def iso(value: datetime | date | str | None) -> str | None:
    """Lago's ISO 8601: UTC datetimes with `Z`, dates as YYYY-MM-DD."""
    if value is None or value == "":
        return None
    if isinstance(value, datetime):
        return value.replace(tzinfo=None).isoformat(timespec="seconds") + "Z"
    if isinstance(value, date):
        return value.isoformat()
    return str(value)


def decimal_text(value: Decimal | None) -> str:
    if value is None:
        return "0.0"
    text = format(Decimal(value).normalize(), "f")
    return text if "." in text else f"{text}.0"


def invoice(
    row: dict,
    *,
    file_url: str | None,
    customer: dict | None,
    fees: list | None,
    lines: list[dict] | None = None,
) -> dict:
    currency = row["currency"]
    issuing, due = row.get("issuing_date"), row.get("payment_due_date")
    term = (due - issuing).days if isinstance(issuing, date) and isinstance(due, date) else 0
    cents = {
        f"{name}_cents": to_cents(row.get(name), currency)
        for name in (
            "fees_amount",
            "coupons_amount",
            "taxes_amount",
            "credit_notes_amount",
            "progressive_billing_credit_amount",
            "sub_total_excluding_taxes_amount",
            "sub_total_including_taxes_amount",
            "total_amount",
            "prepaid_credit_amount",
        )
    }
    body = {
        "lago_id": row["invoice_id"],
        "sequential_id": None,
        "billing_entity_code": None,
        "number": row.get("invoice_number") or "",
        "issuing_date": iso(issuing),
        "payment_due_date": iso(due),
        "payment_overdue": False,
        "payment_dispute_lost_at": None,
        "net_payment_term": term,
        "invoice_type": row["invoice_type"],
        "status": row["status"],
        "payment_status": "pending",
        "version_number": 4,
        "currency": currency,
        **cents,
        "total_due_amount_cents": cents["total_amount_cents"],
        "file_url": file_url,
        "metadata": [],
        "applied_taxes": [],
    }
    if customer is not None:
        body["customer"] = customer
    if fees is not None:
        body["fees"] = fees
    if lines is not None:
        body["billing_periods"] = billing_periods(row, lines)
    return body


def billing_periods(row: dict, lines: list[dict]) -> list[dict]:
    """Lago's per-subscription periods of an invoice, from its lines' windows."""
    reason = {
        "subscription": "subscription_periodic",
        "progressive_billing": "progressive_billing",
        "pay_in_advance": "in_advance_charge",
    }.get(row["invoice_type"], row["invoice_type"])
    periods = []
    subscriptions = sorted(
        {li["external_subscription_id"] for li in lines if li.get("external_subscription_id")}
    )
    for external_id in subscriptions:
        own = [li for li in lines if li.get("external_subscription_id") == external_id]
        fee_lines = [li for li in own if li.get("line_type") == "subscription"] or own
        charge_lines = [li for li in own if li.get("line_type") == "charge"] or own

        def bounds(selected: list[dict]) -> tuple[str | None, str | None]:
            starts = [li["from_datetime"] for li in selected if li.get("from_datetime")]
            ends = [li["to_datetime"] for li in selected if li.get("to_datetime")]
            return iso(min(starts, default=None)), iso(max(ends, default=None))

        subscription_from, subscription_to = bounds(fee_lines)
        charges_from, charges_to = bounds(charge_lines)
        periods.append(
            {
                "lago_subscription_id": lago_id("subscription", external_id),
                "external_subscription_id": external_id,
                "lago_plan_id": lago_id("plan", own[0].get("plan_code") or ""),
                "subscription_from_datetime": subscription_from,
                "subscription_to_datetime": subscription_to,
                "charges_from_datetime": charges_from,
                "charges_to_datetime": charges_to,
                "invoicing_reason": reason,
            }
        )
    return periods


def fee(line: dict) -> dict:
    currency = line["currency"]
    return {
        "lago_id": line["invoice_line_id"],
        "lago_invoice_id": line.get("invoice_id"),
        "external_subscription_id": line.get("external_subscription_id"),
        "lago_subscription_id": lago_id("subscription", line.get("external_subscription_id") or ""),
        "item": {
            "type": line.get("line_type"),
            "code": line.get("charge_code") or line.get("plan_code"),
            "name": line.get("metric_code") or line.get("plan_code"),
            "invoice_display_name": line.get("charge_code") or line.get("plan_code"),
            "filter_invoice_display_name": line.get("filter_code"),
            "grouped_by": {},
        },
        "amount_cents": to_cents(line.get("amount"), currency),
        "precise_amount": decimal_text(line.get("precise_amount")),
        "taxes_amount_cents": to_cents(line.get("taxes_amount"), currency),
        "total_amount_cents": to_cents(line.get("amount"), currency)
        + to_cents(line.get("taxes_amount"), currency),
        "units": decimal_text(line.get("units")),
        "precise_unit_amount": decimal_text(line.get("unit_amount")),
        "events_count": line.get("events_count"),
        "amount_currency": currency,
        "from_date": iso(line.get("from_datetime")),
        "to_date": iso(line.get("to_datetime")),
        "pay_in_advance": False,
        "invoiceable": line.get("invoice_id") is not None,
    }


def customer(
    row: dict, *, entity_timezone: str, created_at: datetime | date | str | None = None
) -> dict:
    external_id = row["external_customer_id"]
    timezone = row.get("timezone") or None
    updated = row.get("updated_at")
    return {
        "lago_id": lago_id("customer", external_id),
        "external_id": external_id,
        "name": row.get("name") or row.get("customer_name"),
        "legal_name": row.get("legal_name"),
        "email": row.get("email"),
        "address_line1": row.get("address_line1"),
        "address_line2": row.get("address_line2"),
        "city": row.get("city"),
        "zipcode": row.get("zipcode"),
        "state": row.get("state"),
        "country": row.get("country"),
        "currency": row.get("currency"),
        "timezone": timezone,
        "applicable_timezone": timezone or entity_timezone or "UTC",
        "tax_identification_number": row.get("tax_identification_number"),
        "created_at": iso(created_at or updated) or "",
        "updated_at": iso(updated) or "",
    }


def subscription(phase: dict, *, first: dict, status: str) -> dict:
    external_id = phase["external_subscription_id"]
    return {
        "lago_id": lago_id("subscription", external_id),
        "external_id": external_id,
        "lago_customer_id": lago_id("customer", phase["external_customer_id"]),
        "external_customer_id": phase["external_customer_id"],
        "plan_code": phase["plan_code"],
        "name": None,
        "status": status,
        "billing_time": phase.get("billing_time") or "calendar",
        "subscription_at": first.get("subscription_at") or first.get("started_at"),
        "started_at": phase.get("started_at"),
        "terminated_at": phase.get("terminated_at"),
        "canceled_at": None,
        "created_at": first.get("updated_at") or first.get("started_at"),
    }


def credit_note(row: dict, *, invoice_number: str | None, file_url: str | None) -> dict:
    currency = row["currency"]
    sub_total = Decimal(row.get("sub_total_excluding_taxes_amount") or 0)
    taxes = Decimal(row.get("taxes_amount") or 0)
    rate = (taxes / sub_total * 100).quantize(Decimal("0.01")) if sub_total else Decimal(0)
    balance = to_cents(row.get("balance_amount"), currency)
    return {
        "lago_id": row["credit_note_id"],
        "sequential_id": None,
        "number": row.get("credit_note_number"),
        "lago_invoice_id": row.get("invoice_id"),
        "invoice_number": invoice_number,
        "issuing_date": iso(row.get("issuing_date")),
        "credit_status": "available" if balance > 0 else "consumed",
        "refund_status": None,
        "reason": row.get("reason"),
        "description": row.get("description"),
        "currency": currency,
        "total_amount_cents": to_cents(row.get("total_amount"), currency),
        "credit_amount_cents": to_cents(row.get("credit_amount"), currency),
        "balance_amount_cents": balance,
        "refund_amount_cents": to_cents(row.get("refund_amount"), currency),
        "offset_amount_cents": 0,
        "taxes_amount_cents": str(to_cents(taxes, currency)),
        "taxes_rate": float(rate),  # a percentage, not money: Lago sends a JSON number
        "sub_total_excluding_taxes_amount_cents": to_cents(sub_total, currency),
        "coupons_adjustment_amount_cents": to_cents(row.get("coupons_adjustment_amount"), currency),
        "file_url": file_url,
        "created_at": iso(row.get("issuing_date")),
        "updated_at": iso(row.get("issuing_date")),
        "items": [],
        "applied_taxes": [],
        "metadata": None,
    }


def wallet(code: str, transactions: list[dict], currency: str) -> dict:
    """A wallet from its ledger rows (`fct_wallet_transactions`, ordered by `created_at`)."""
    last = transactions[-1]
    first = transactions[0]
    consumed = sum(
        (Decimal(t["credits"]) for t in transactions if t["transaction_type"] == "consumed"),
        Decimal(0),
    )
    balance = Decimal(last.get("credits_balance_after") or 0)
    balance_amount = Decimal(last.get("balance_amount_after") or 0)
    return {
        "lago_id": code,
        "code": code,
        "name": code,
        "lago_customer_id": lago_id("customer", last["external_customer_id"]),
        "external_customer_id": last["external_customer_id"],
        "status": "active",
        "currency": currency,
        "priority": None,
        "rate_amount": decimal_text(balance_amount / balance if balance else Decimal(1)),
        "credits_balance": decimal_text(balance),
        "balance_cents": to_cents(balance_amount, currency),
        "consumed_credits": decimal_text(abs(consumed)),
        "created_at": iso(first.get("created_at")),
        "expiration_at": None,
        "last_balance_sync_at": iso(last.get("created_at")),
        "last_consumed_credit_at": None,
        "terminated_at": None,
        "ongoing_balance_cents": to_cents(balance_amount, currency),
        "ongoing_usage_balance_cents": 0,
        "credits_ongoing_balance": decimal_text(balance),
        "credits_ongoing_usage_balance": "0.0",
    }


def wallet_transaction(row: dict) -> dict:
    settled = row.get("status") == "settled"
    kind = row["transaction_type"]
    return {
        "lago_id": row["wallet_transaction_id"],
        "lago_wallet_id": row["wallet_code"],
        "lago_invoice_id": row.get("invoice_id"),
        "lago_credit_note_id": None,
        "lago_voided_invoice_id": None,
        "status": row.get("status"),
        "source": "manual",
        "transaction_status": kind,
        "transaction_type": "outbound" if kind in ("consumed", "voided", "expired") else "inbound",
        "amount": decimal_text(row.get("amount")),
        "credit_amount": decimal_text(row.get("credits")),
        "settled_at": iso(row.get("created_at")) if settled else None,
        "failed_at": None,
        "created_at": iso(row.get("created_at")),
        "metadata": [],
        "name": None,
    }


def current_usage(summary: dict, lines: list[dict], catalog: Catalog) -> dict:
    """Lago's customer usage (docs/rules.md §20.4) from the period-to-date marts."""
    currency = summary["currency"]
    by_charge: dict[str, list[dict]] = {}
    for line in lines:
        by_charge.setdefault(line["charge_code"], []).append(line)
    charges_usage = []
    for charge_code, rows in sorted(by_charge.items()):
        charge = catalog.charges.get(charge_code, {})
        metric_code = charge.get("metric_code") or ""
        metric = catalog.metrics.get(metric_code, {})
        units = sum((Decimal(r.get("units") or 0) for r in rows), Decimal(0))
        filters = [
            {
                "invoice_display_name": r.get("filter_code"),
                "values": None,
                "units": decimal_text(r.get("units")),
                "total_aggregated_units": decimal_text(r.get("units")),
                "amount_cents": to_cents(r.get("amount"), currency),
                "events_count": int(r.get("events_count") or 0),
            }
            for r in rows
            if r.get("filter_code")
        ]
        groups = [
            {
                "grouped_by": _pricing_group(r.get("pricing_group")),
                "units": decimal_text(r.get("units")),
                "total_aggregated_units": decimal_text(r.get("units")),
                "amount_cents": to_cents(r.get("amount"), currency),
                "events_count": int(r.get("events_count") or 0),
                "filters": [],
            }
            for r in rows
            if _pricing_group(r.get("pricing_group"))
        ]
        charges_usage.append(
            {
                "units": decimal_text(units),
                "total_aggregated_units": decimal_text(units),
                "events_count": sum(int(r.get("events_count") or 0) for r in rows),
                "amount_cents": sum(to_cents(r.get("amount"), currency) for r in rows),
                "amount_currency": currency,
                "pricing_unit_details": None,
                "charge": {
                    "lago_id": lago_id("charge", charge_code),
                    "code": charge_code,
                    "charge_model": charge.get("charge_model") or "standard",
                    "invoice_display_name": charge_code,
                },
                "billable_metric": {
                    "lago_id": lago_id("billable_metric", metric_code),
                    "name": metric.get("name") or metric_code,
                    "code": metric_code,
                    "aggregation_type": f"{metric.get('aggregation') or 'count'}_agg",
                },
                "filters": filters,
                "grouped_usage": groups,
            }
        )
    to_datetime = summary.get("to_datetime")
    return {
        "from_datetime": iso(summary.get("from_datetime")),
        "to_datetime": iso(to_datetime),
        "issuing_date": iso(to_datetime.date()) if isinstance(to_datetime, datetime) else None,
        "lago_invoice_id": None,
        "currency": currency,
        "amount_cents": to_cents(summary.get("amount"), currency),
        "taxes_amount_cents": to_cents(summary.get("taxes_amount"), currency),
        "total_amount_cents": to_cents(summary.get("total_amount"), currency),
        "charges_usage": charges_usage,
    }


def _pricing_group(value: object) -> dict:
    import json

    if value in (None, "", "{}", "null"):
        return {}
    if isinstance(value, dict):
        return value
    try:
        parsed = json.loads(str(value))
    except ValueError:
        return {}
    return parsed if isinstance(parsed, dict) else {}
