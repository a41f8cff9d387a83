"""Spend caps end to end (docs/rules.md §12b): a cap crossed in the middle of March 2026.

One small workspace: plan `p_cap` (a 10.00 fee in arrears; api hits at 1.00 taxed 10 %, storage
at 1.00 a GB taxed 20 %) caps usage at 100.00, and `sub_cap` sets its own cap of 5.00. By Mar 8
it has used 7.00 (4 hits, 3 GB), by the month's end 8.00 (one more hit).

- Both usage refreshes (Mar 8, Mar 20) flag the cap reached; the webhook is queued once.
- The close bills the fee and 5.00 of usage: the 3.00 above the cap is taken off by two
  spend_cap lines, in proportion to the usage of each tax rate (storage 3 x 3/8 = 1.125 ->
  1.13, api the rest, 1.87), so each rate taxes what is billed: 10 % of 3.13 + 20 % of 1.87 =
  0.313 + 0.374 = 0.687 -> 0.69.
- The finalized PDF shows the line.
"""

import json
import re
from decimal import Decimal
from pathlib import Path

import pytest
from conftest import query, write_catalog_csv, write_ndjson
from pypdf import PdfReader

from orchestration.accounting import check_ledger
from orchestration.cli import main

pytestmark = pytest.mark.integration

SPEND_CAP_EVENT = "subscription.spend_cap_reached"


def _workspace(root: Path) -> list[str]:
    catalog, landing = root / "catalog", root / "landing"
    write_catalog_csv(
        catalog / "billing_entity.csv",
        [
            {
                "name": "Capped Co",
                "legal_name": "Capped Co Ltd",
                "address_line1": "1 Limit Road",
                "city": "London",
                "zipcode": "N1",
                "country": "GB",
                "email": "billing@capped.example",
                "timezone": "UTC",
                "invoice_prefix": "CAP",
                "document_numbering": "per_customer",
            }
        ],
    )
    write_catalog_csv(
        catalog / "billable_metrics.csv",
        [
            {"metric_code": "api_hits", "name": "API hits", "aggregation": "count"},
            {"metric_code": "storage", "name": "Storage", "aggregation": "sum", "field_name": "gb"},
        ],
    )
    write_catalog_csv(
        catalog / "taxes.csv",
        [
            {"tax_code": "vat10", "name": "VAT 10", "rate": "10", "applied_by_default": "false"},
            {"tax_code": "vat20", "name": "VAT 20", "rate": "20", "applied_by_default": "false"},
        ],
    )
    write_catalog_csv(
        catalog / "plans.csv",
        [
            {
                "plan_code": "p_cap",
                "name": "Capped plan",
                "interval": "monthly",
                "currency": "USD",
                "amount": "10.00",
                "pay_in_advance": "false",
                "trial_days": "0",
                "bill_charges_monthly": "false",
                "spend_cap_amount": "100",
            }
        ],
    )
    write_catalog_csv(
        catalog / "charges.csv",
        [
            {
                "charge_code": code,
                "plan_code": "p_cap",
                "metric_code": metric,
                "charge_model": "standard",
                "pay_in_advance": "false",
                "invoiceable": "true",
                "prorated": "false",
                "tax_codes": tax,
                "amount": "1.00",
            }
            for code, metric, tax in (
                ("c_api", "api_hits", "vat10"),
                ("c_storage", "storage", "vat20"),
            )
        ],
    )
    write_ndjson(
        landing / "customers" / "customers.ndjson",
        [
            {
                "external_customer_id": "cust_cap",
                "name": "Capped Customer",
                "country": "US",
                "currency": "USD",
                "timezone": "",
                "updated_at": "2026-01-01T00:00:00Z",
            }
        ],
    )
    subscription = {
        "external_customer_id": "cust_cap",
        "plan_code": "p_cap",
        "billing_time": "calendar",
        "started_at": "2026-03-01T00:00:00Z",
    }
    write_ndjson(
        landing / "subscriptions" / "subscriptions.ndjson",
        [
            {**subscription, "external_subscription_id": "sub_cap", "spend_cap_amount": "5.00"},
            # A negative cap is not a cap: the row is quarantined (bad_value).
            {**subscription, "external_subscription_id": "sub_bad", "spend_cap_amount": "-1"},
        ],
    )
    events = [
        *((f"api_{day}", "api_hits", f"2026-03-0{day}T10:00:00Z", {}) for day in (2, 3, 4, 5)),
        ("storage_6", "storage", "2026-03-06T10:00:00Z", {"gb": 3}),
        ("api_15", "api_hits", "2026-03-15T10:00:00Z", {}),
    ]
    write_ndjson(
        landing / "events" / "events.ndjson",
        [
            {
                "transaction_id": transaction,
                "external_subscription_id": "sub_cap",
                "code": code,
                "timestamp": timestamp,
                "properties": properties,
            }
            for transaction, code, timestamp, properties in events
        ],
    )
    locations = {
        "catalog": catalog,
        "landing": landing,
        "warehouse": root / "warehouse.duckdb",
        "output": root / "output",
    }
    return [f"--{name}={path}" for name, path in locations.items()]


def _usage(warehouse: Path) -> tuple:
    return query(
        warehouse,
        "select amount, spend_cap_amount, capped_amount, spend_cap_reached "
        "from billing.fct_usage_current_subscriptions where external_subscription_id = 'sub_cap'",
    )[0]


def _spend_cap_webhooks(warehouse: Path) -> list[tuple]:
    return query(
        warehouse,
        "select events.object_id, events.body, count(deliveries.webhook_id) "
        "from webhooks.events as events left join webhooks.deliveries as deliveries "
        "on events.webhook_event_id = deliveries.webhook_event_id "
        "where events.webhook_type = ? group by events.object_id, events.body",
        [SPEND_CAP_EVENT],
    )


def test_a_spend_cap_crossed_mid_period(tmp_path: Path, monkeypatch) -> None:
    args = _workspace(tmp_path)
    warehouse = tmp_path / "warehouse.duckdb"
    monkeypatch.setenv(
        "MH_WEBHOOKS",
        json.dumps(
            {
                "endpoints": [
                    {
                        "url": "https://example.com/caps",
                        "secret": "spend-cap-secret-0123456789",
                        "event_types": [SPEND_CAP_EVENT],
                    }
                ]
            }
        ),
    )

    # Mar 8: 7.00 used, the subscription's 5.00 cap (not the plan's 100) is reached.
    assert main(["usage", "--as-of", "2026-03-08T12:00:00Z", *args]) == 0
    assert _usage(warehouse) == (Decimal("7"), Decimal("5"), Decimal("5"), True)
    ((object_id, body, deliveries),) = _spend_cap_webhooks(warehouse)
    assert object_id == "sub_cap|2026-03-01T00:00:00Z" and deliveries == 1
    sent = json.loads(body)
    assert sent["webhook_type"] == SPEND_CAP_EVENT and sent["object_type"] == "spend_cap"
    assert (
        sent["spend_cap"]["spend_cap_amount_cents"],
        sent["spend_cap"]["current_usage_amount_cents"],
    ) == (500, 700)

    # Mar 20: still reached (8.00); the same period's event is not queued again.
    assert main(["usage", "--as-of", "2026-03-20T12:00:00Z", *args]) == 0
    assert _usage(warehouse) == (Decimal("8"), Decimal("5"), Decimal("5"), True)
    assert len(_spend_cap_webhooks(warehouse)) == 1

    assert main(["close", "--month", "2026-03", *args]) == 0
    assert query(
        warehouse,
        "select reason from billing.rejected_inputs where raw like '%sub_bad%'",
    ) == [("bad_value",)]
    lines = query(
        warehouse,
        "select line_type, tax_codes, amount, taxes_amount from billing.fct_invoice_lines "
        "where external_subscription_id = 'sub_cap' order by line_type, tax_codes",
    )
    assert lines == [
        ("charge", "vat10", Decimal("5"), Decimal("0.5")),
        ("charge", "vat20", Decimal("3"), Decimal("0.6")),
        ("spend_cap", "vat10", Decimal("-1.87"), Decimal("-0.19")),
        ("spend_cap", "vat20", Decimal("-1.13"), Decimal("-0.23")),
        ("subscription", None, Decimal("10"), Decimal("0")),
    ]
    # Totals: the fee plus the cap; taxes rounded once on what is billed at each rate.
    assert query(
        warehouse,
        "select fees_amount, taxes_amount, total_amount from billing.fct_invoices "
        "where external_customer_id = 'cust_cap'",
    ) == [(Decimal("15"), Decimal("0.69"), Decimal("15.69"))]

    assert main(["finalize", "--month", "2026-03", *args]) == 0
    (pdf,) = (tmp_path / "output" / "invoices" / "2026-03").glob("*.pdf")
    text = " ".join(page.extract_text() for page in PdfReader(pdf).pages)
    # The usage, then the two spend cap lines under it, then the totals.
    storage, cap = text.index("Storage"), text.index("Spend cap: usage above the cap not billed")
    assert storage < cap < text.index("Subtotal excl. tax")
    assert "-$1.87" in text and "-$1.13" in text and "Total due\n$15.69" in text
    # The books: the 3.00 not billed is debited to its own income account, and they balance.
    ledger = tmp_path / "output" / "accounting" / "ledger.beancount"
    assert check_ledger(ledger) == []
    assert re.search(r"Income:Spend-Caps:P-Cap +3\.00 USD", ledger.read_text())
