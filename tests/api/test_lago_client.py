"""Lago's official Python client against a live `meterhouse serve`: what it reads equals the marts.

One close for the whole module (conftest `closed_workspace`): customers, subscriptions and events
go in through the client, the CLI closes and finalizes November 2026, and the client then reads
invoices, downloads a PDF, reads the current usage and fetches the portal URL.
"""

from decimal import Decimal

import httpx
import pyarrow.parquet as pq
import pytest
from lago_python_client.exceptions import LagoApiError

from api.api_live import CUSTOMER, OTHER_CUSTOMER, SUBSCRIPTION
from orchestration.api.marts import to_cents

pytestmark = pytest.mark.integration


def marts(workspace: dict, table: str) -> list[dict]:
    return pq.read_table(workspace["output"] / "marts" / f"{table}.parquet").to_pylist()


def test_every_event_sent_is_billed_once(closed_workspace: dict) -> None:
    import duckdb

    with duckdb.connect(str(closed_workspace["warehouse"]), read_only=True) as conn:
        loaded = conn.execute(
            "select transaction_id from raw.events where external_subscription_id = ? "
            "and transaction_id not like 'k%'",  # not the events of the kill (test_crash.py)
            [SUBSCRIPTION],
        ).fetchall()
    sent = {e["transaction_id"] for e in closed_workspace["sent"]}
    assert sorted(t for (t,) in loaded) == sorted(sent)  # all of them, none twice


def test_invoices_read_through_the_client_equal_the_marts(closed_workspace: dict) -> None:
    client = closed_workspace["client"]
    published = [
        r for r in marts(closed_workspace, "fct_invoices") if r["external_customer_id"] == CUSTOMER
    ]
    assert published, "the close issued no invoice for the API's customer"
    listed = client.invoices.find_all({"external_customer_id": CUSTOMER, "per_page": 1})
    assert listed["meta"]["total_count"] == len(published)
    assert len(listed["invoices"]) == 1
    seen = []
    for page in range(1, len(published) + 1):
        seen += client.invoices.find_all(
            {"external_customer_id": CUSTOMER, "per_page": 1, "page": page}
        )["invoices"]
    by_id = {r["invoice_id"]: r for r in published}
    assert sorted(i.lago_id for i in seen) == sorted(by_id)
    for invoice in seen:
        row = by_id[invoice.lago_id]
        assert invoice.number == row["invoice_number"]
        assert invoice.status == row["status"] == "finalized"
        assert invoice.total_amount_cents == to_cents(row["total_amount"], "USD")
        assert invoice.fees_amount_cents == to_cents(row["fees_amount"], "USD")
        assert invoice.taxes_amount_cents == to_cents(row["taxes_amount"], "USD")
    usage_invoice = max(published, key=lambda r: r["fees_amount"])
    one = client.invoices.find(usage_invoice["invoice_id"])
    lines = [
        r
        for r in marts(closed_workspace, "fct_invoice_lines")
        if r["invoice_id"] == usage_invoice["invoice_id"]
    ]
    assert sorted(f.amount_cents for f in one.fees.__root__) == sorted(
        to_cents(r["amount"], "USD") for r in lines
    )
    assert one.customer.external_id == CUSTOMER
    # Lago's filters
    assert client.invoices.find_all({"status": "draft"})["invoices"] == []
    other = client.invoices.find_all({"external_customer_id": OTHER_CUSTOMER})["invoices"]
    assert other and all(i.customer is None for i in other)
    later = client.invoices.find_all(
        {"issuing_date_from": "2026-12-01", "external_customer_id": CUSTOMER}
    )
    assert {i.lago_id for i in later["invoices"]} == {
        r["invoice_id"] for r in published if r["issuing_date"].isoformat() >= "2026-12-01"
    }


def test_pdf_download_and_portal_url(closed_workspace: dict) -> None:
    client = closed_workspace["client"]
    invoice_id = client.invoices.find_all({"external_customer_id": CUSTOMER})["invoices"][0].lago_id
    downloaded = client.invoices.download(invoice_id)
    assert downloaded.file_url.startswith(closed_workspace["base"] + "/portal/")
    pdf = httpx.get(downloaded.file_url)
    assert pdf.status_code == 200 and pdf.content.startswith(b"%PDF")
    assert pdf.headers["content-type"] == "application/pdf"
    url = client.customers.portal_url(CUSTOMER)
    page = httpx.get(url)
    assert page.status_code == 200 and "Acme &amp; Sons &lt;Ltd&gt;" in page.text
    with pytest.raises(LagoApiError) as error:
        client.customers.portal_url("nobody")
    assert error.value.status_code == 404


def test_current_usage_equals_the_published_period_to_date(closed_workspace: dict) -> None:
    client = closed_workspace["client"]
    usage = client.customers.current_usage(CUSTOMER, SUBSCRIPTION)
    summary = marts(closed_workspace, "fct_usage_current_subscriptions")[0]
    lines = marts(closed_workspace, "fct_usage_current")
    assert usage.amount_cents == to_cents(summary["amount"], "USD") == 133
    assert usage.total_amount_cents == 144 and usage.taxes_amount_cents == 11
    assert usage.from_datetime == "2026-12-01T00:00:00Z"
    by_code = {c.charge.invoice_display_name: c for c in usage.charges_usage}
    for line in lines:
        charge = by_code[line["charge_code"]]
        assert Decimal(charge.units) == line["units"]
        assert charge.amount_cents == to_cents(line["amount"], "USD")
        assert charge.events_count == line["events_count"]
    assert by_code["starter_usd_tokens"].billable_metric.aggregation_type == "sum_agg"
    with pytest.raises(LagoApiError) as error:  # a subscription of another customer
        client.customers.current_usage(OTHER_CUSTOMER, SUBSCRIPTION)
    assert error.value.status_code == 404


def test_terminating_a_subscription_lands_a_phase(closed_workspace: dict) -> None:
    from lago_python_client.models import Subscription

    client = closed_workspace["client"]
    client.subscriptions.create(
        Subscription(
            external_id="api_sub_3", external_customer_id=CUSTOMER, plan_code="starter_usd"
        )
    )
    ended = client.subscriptions.destroy("api_sub_3")
    assert ended.status == "terminated" and ended.terminated_at
    with pytest.raises(LagoApiError) as error:
        client.subscriptions.destroy("api_sub_3")
    assert error.value.status_code == 404


def test_wallets_and_their_transactions_equal_the_ledger(closed_workspace: dict) -> None:
    client = closed_workspace["client"]
    ledger = [
        r
        for r in marts(closed_workspace, "fct_wallet_transactions")
        if r["wallet_code"] == "api_wallet"
    ]
    assert ledger, "the close wrote no wallet transaction"
    last = max(ledger, key=lambda r: (r["created_at"], r["wallet_transaction_id"]))
    wallets = client.wallets.find_all({"external_customer_id": CUSTOMER})["wallets"]
    assert [w.lago_id for w in wallets] == ["api_wallet"]
    assert Decimal(wallets[0].credits_balance) == last["credits_balance_after"]
    assert wallets[0].balance_cents == to_cents(last["balance_amount_after"], "USD")
    transactions = client.wallet_transactions.find_all("api_wallet")["wallet_transactions"]
    assert sorted(t.lago_id for t in transactions) == sorted(
        r["wallet_transaction_id"] for r in ledger
    )
    assert client.wallets.find_all({"external_customer_id": OTHER_CUSTOMER})["wallets"] == []
