"""Late data after finalization (docs/conventions.md, issue #6): restated, billed or credited on
the next close, while the finalized invoices, their PDFs and their ledger entries never change.

A catalog and landing data of their own, numbers worked out by hand. Seller "Late Co" (UTC,
per-organization numbers, prefix LATE); metric `calls` (count); every plan monthly in arrears,
calendar, taxed VAT 20 %:
- `std`: 50.00 + 1.00 a call; `cheap`: 20.00 + 0.50 a call.
- cust_more (std): 10 calls in January, 3 in February. After January is finalized, 5 more
  January calls arrive: January's call line is restated from 10.00 to 15.00, and the 5.00 is
  billed by an adjustment line on the Mar 1 invoice: 50.00 + 3.00 + 5.00 = 58.00, VAT 11.60,
  total 69.60.
- cust_less (std, 10 calls in January, 4 in February): after January is finalized, finance
  corrects the subscription to `cheap` from its start (a later subscription row). January's fee
  line goes from 50.00 to 20.00 and its `std` call line (10.00) is replaced by a `cheap` one
  (5.00): a `restatement` credit note of 40.00 + 8.00 VAT = 48.00 on the January invoice, and a
  5.00 adjustment on Mar 1, whose invoice is 20.00 + 2.00 + 5.00 = 27.00 + 5.40 VAT = 32.40,
  all paid by the note (15.60 of it left).
- cust_gone (std, terminated on Jan 20, 3 calls before): 2 late calls of Jan 15. With no invoice
  in February, the 2.00 goes on an invoice of its own (`one_off`), issued Mar 1: 2.40.
Then, with February finalized, one more January call of cust_more: a re-run of the January close
shows it `pending`, and the March close bills it (1.00) on the Apr 1 invoice.
"""

import hashlib
import re
from decimal import Decimal
from pathlib import Path

import duckdb
import pytest
from conftest import write_catalog_csv, write_ndjson

from orchestration.cli import main
from orchestration.settings import REPO_ROOT

pytestmark = pytest.mark.integration

SEED_CATALOG = REPO_ROOT / "seeds" / "catalog"


def write_catalog(catalog: Path) -> None:
    write_catalog_csv(
        catalog / "billing_entity.csv",
        [
            {
                "name": "Late Co",
                "legal_name": "Late Co Ltd",
                "address_line1": "2 Ledger Lane",
                "city": "London",
                "zipcode": "EC1",
                "country": "GB",
                "email": "billing@late.example",
                "timezone": "UTC",
                "invoice_prefix": "LATE",
                "document_numbering": "per_organization",
            }
        ],
    )
    write_catalog_csv(
        catalog / "billable_metrics.csv",
        [{"metric_code": "calls", "name": "Calls", "aggregation": "count", "recurring": "false"}],
    )
    write_catalog_csv(
        catalog / "plans.csv",
        [
            {
                "plan_code": plan,
                "name": plan,
                "interval": "monthly",
                "currency": "USD",
                "amount": amount,
                "pay_in_advance": "false",
                "trial_days": "0",
                "bill_charges_monthly": "false",
                "tax_codes": "vat",
            }
            for plan, amount in (("std", "50.00"), ("cheap", "20.00"))
        ],
    )
    write_catalog_csv(
        catalog / "charges.csv",
        [
            {
                "charge_code": f"{plan}_calls",
                "plan_code": plan,
                "metric_code": "calls",
                "charge_model": "standard",
                "pay_in_advance": "false",
                "invoiceable": "true",
                "prorated": "false",
                "amount": amount,
            }
            for plan, amount in (("std", "1.00"), ("cheap", "0.50"))
        ],
    )
    for name in (
        "metric_filters",
        "charge_filters",
        "charge_tiers",
        "usage_thresholds",
        "coupons",
    ):
        write_catalog_csv(catalog / f"{name}.csv", [])
    write_catalog_csv(
        catalog / "taxes.csv",
        [{"tax_code": "vat", "name": "VAT", "rate": "20", "applied_by_default": "false"}],
    )


def _subscription(customer: str, plan: str, updated_at: str, terminated_at: str | None = None):
    return {
        "external_subscription_id": "sub_" + customer.removeprefix("cust_"),
        "external_customer_id": customer,
        "plan_code": plan,
        "billing_time": "calendar",
        "subscription_at": "2025-01-01T00:00:00Z",
        "started_at": "2025-01-01T00:00:00Z",
        "terminated_at": terminated_at,
        "updated_at": updated_at,
    }


def _calls(subscription: str, tag: str, month: int, days: range) -> list[dict]:
    return [
        {
            "transaction_id": f"{subscription}_{tag}_{month}_{day}",
            "external_subscription_id": subscription,
            "code": "calls",
            "timestamp": f"2025-{month:02d}-{day:02d}T10:00:00Z",
            "properties": {},
        }
        for day in days
    ]


def write_landing(landing: Path) -> None:
    write_ndjson(
        landing / "customers" / "customers.ndjson",
        [
            {
                "external_customer_id": customer,
                "name": customer,
                "country": "US",
                "currency": "USD",
                "timezone": "",
                "updated_at": f"2024-12-01T0{index}:00:00Z",
            }
            for index, customer in enumerate(("cust_more", "cust_less", "cust_gone"))
        ],
    )
    write_ndjson(
        landing / "subscriptions" / "subscriptions.ndjson",
        [
            _subscription("cust_more", "std", "2025-01-01T00:00:00Z"),
            _subscription("cust_less", "std", "2025-01-01T00:00:00Z"),
            _subscription("cust_gone", "std", "2025-01-01T00:00:00Z", "2025-01-20T00:00:00Z"),
        ],
    )
    write_ndjson(
        landing / "events" / "events.ndjson",
        _calls("sub_more", "on_time", 1, range(1, 11))
        + _calls("sub_more", "on_time", 2, range(1, 4))
        + _calls("sub_less", "on_time", 1, range(1, 11))
        + _calls("sub_less", "on_time", 2, range(1, 5))
        + _calls("sub_gone", "on_time", 1, range(1, 4)),
    )


def write_late_data(landing: Path) -> None:
    """What lands after January is finalized: late calls and a corrected subscription."""
    write_ndjson(
        landing / "events" / "late.ndjson",
        _calls("sub_more", "late", 1, range(20, 25)) + _calls("sub_gone", "late", 1, range(15, 17)),
    )
    write_ndjson(
        landing / "subscriptions" / "correction.ndjson",
        [_subscription("cust_less", "cheap", "2025-02-10T00:00:00Z")],
    )


def read(warehouse: Path, sql: str, params: list | None = None) -> list[tuple]:
    with duckdb.connect(str(warehouse), read_only=True) as conn:
        return conn.execute(sql, params or []).fetchall()


def file_digests(folder: Path) -> dict[str, str]:
    return {
        str(path.relative_to(folder)): hashlib.sha256(path.read_bytes()).hexdigest()
        for path in sorted(folder.rglob("*.pdf"))
    }


def invoice(warehouse: Path, customer: str, issued: str) -> dict:
    rows = read(
        warehouse,
        """
        select invoice_id, invoice_type, status, fees_amount, taxes_amount, credit_notes_amount,
            total_amount
        from billing.fct_invoices
        where external_customer_id = ? and issuing_date = cast(? as date)
            and invoice_type <> 'progressive_billing'
        """,
        [customer, issued],
    )
    assert len(rows) == 1, rows
    keys = ("invoice_id", "invoice_type", "status", "fees", "taxes", "credit_notes", "total")
    return dict(zip(keys, rows[0], strict=True))


def restatements(warehouse: Path, customer: str) -> list[tuple]:
    return read(
        warehouse,
        """
        select charge_code, line_type, finalized_units, restated_units, finalized_amount,
            restated_amount, difference_amount, settled_amount, outstanding_amount,
            settlement_status
        from billing.fct_invoice_restatements
        where external_customer_id = ?
        order by line_type, charge_code, finalized_amount
        """,
        [customer],
    )


def D(text: str) -> Decimal:
    return Decimal(text)


@pytest.fixture(scope="module")
def scenario(tmp_path_factory: pytest.TempPathFactory) -> dict:
    """January closed and finalized; late data; February closed (drafts) then finalized; one
    more late January call; January re-closed; March closed. A snapshot at each step."""
    root = tmp_path_factory.mktemp("late")
    write_catalog(root / "catalog")
    write_landing(root / "landing")
    warehouse = root / "warehouse.duckdb"
    output = root / "output"
    args = [
        f"--catalog={root / 'catalog'}",
        f"--landing={root / 'landing'}",
        f"--warehouse={warehouse}",
        f"--output={output}",
    ]
    snapshots: dict = {"warehouse": warehouse}

    def snapshot(name: str) -> None:
        snapshots[name] = {
            "invoices": read(
                warehouse,
                "select issuing_date, * from billing.fct_invoices order by invoice_id",
            ),
            "restatements": {
                customer: restatements(warehouse, customer)
                for customer in ("cust_more", "cust_less", "cust_gone")
            },
            "pdfs": file_digests(output / "invoices"),
            "ledger": (output / "accounting" / "ledger.beancount").read_text(),
        }

    assert main(["close", "--month", "2025-01", *args]) == 0
    assert main(["finalize", "--month", "2025-01", *args]) == 0
    snapshot("january_finalized")
    write_late_data(root / "landing")
    assert main(["close", "--month", "2025-02", *args]) == 0
    snapshot("february_drafted")
    snapshots["february_drafts"] = {
        customer: invoice(warehouse, customer, "2025-03-01")
        for customer in ("cust_more", "cust_less", "cust_gone")
    }
    assert main(["finalize", "--month", "2025-02", *args]) == 0
    snapshot("february_finalized")
    write_ndjson(
        root / "landing" / "events" / "later.ndjson", _calls("sub_more", "later", 1, range(28, 29))
    )
    assert main(["close", "--month", "2025-01", *args]) == 0
    snapshot("january_reclosed")
    assert main(["close", "--month", "2025-03", *args]) == 0
    snapshot("march_drafted")
    return snapshots


FEB_1 = "2025-02-01"  # January's period-end invoices


def test_late_calls_are_restated_on_their_finalized_line(scenario):
    assert scenario["february_drafted"]["restatements"]["cust_more"] == [
        # charge, line, units finalized -> restated, amount finalized -> restated, difference,
        # settled by finalized documents, outstanding, status
        ("std_calls", "charge", 10, 15, D("10"), D("15"), D("5"), 0, D("5"), "drafted")
    ]


def test_the_adjustment_is_billed_on_the_next_invoice(scenario):
    draft = scenario["february_drafts"]["cust_more"]
    # 50.00 + 3 calls + the 5.00 adjustment; VAT 20 %.
    assert (draft["status"], draft["fees"], draft["taxes"], draft["total"]) == (
        "draft",
        D("58.00"),
        D("11.60"),
        D("69.60"),
    )
    lines = read(
        scenario["warehouse"],
        """
        select lines.line_type, lines.amount, lines.units, finalized.invoice_number
        from billing.fct_invoice_lines as lines
        inner join billing.fct_invoice_lines as restated
            on lines.restated_invoice_line_id = restated.invoice_line_id
        inner join billing.fct_invoices as finalized on restated.invoice_id = finalized.invoice_id
        where lines.invoice_id = ?
        """,
        [draft["invoice_id"]],
    )
    # cust_gone's termination invoice of Jan 20 took number 001.
    assert lines == [("adjustment", D("5.00"), 5, "LATE-202502-002")]


def test_a_corrected_subscription_is_credited_and_rebilled(scenario):
    assert scenario["february_drafted"]["restatements"]["cust_less"] == [
        # The std calls (10.00) leave, the cheap ones (5.00) arrive; the fee line stays and
        # goes from 50.00 to 20.00.
        ("cheap_calls", "charge", 0, 10, D("0"), D("5"), D("5"), 0, D("5"), "drafted"),
        ("std_calls", "charge", 10, 0, D("10"), D("0"), D("-10"), 0, D("-10"), "drafted"),
        (None, "subscription", 1, 1, D("50"), D("20"), D("-30"), 0, D("-30"), "drafted"),
    ]
    notes = read(
        scenario["warehouse"],
        """
        select reason, sub_total_excluding_taxes_amount, taxes_amount, total_amount,
            balance_amount, issuing_date
        from billing.fct_credit_notes
        where external_customer_id = 'cust_less'
        """,
    )
    # After February's finalization: 48.00 issued Feb 28, 32.40 of it paid the Mar 1 invoice.
    assert [(r[0], r[1], r[2], r[3], r[4], str(r[5])) for r in notes] == [
        ("restatement", D("40.00"), D("8.00"), D("48.00"), D("15.60"), "2025-02-28")
    ]
    draft = scenario["february_drafts"]["cust_less"]
    # cheap 20.00 + 4 x 0.50 + the 5.00 adjustment = 27.00; VAT 5.40; the note pays 32.40.
    assert (draft["fees"], draft["taxes"], draft["credit_notes"], draft["total"]) == (
        D("27.00"),
        D("5.40"),
        D("32.40"),
        D("0.00"),
    )


def test_a_customer_without_a_next_invoice_gets_one_of_its_own(scenario):
    draft = scenario["february_drafts"]["cust_gone"]
    assert (draft["invoice_type"], draft["fees"], draft["taxes"], draft["total"]) == (
        "one_off",
        D("2.00"),
        D("0.40"),
        D("2.40"),
    )


def test_finalizing_the_next_month_settles_the_restatements(scenario):
    rows = [
        row
        for customer in ("cust_more", "cust_less", "cust_gone")
        for row in scenario["february_finalized"]["restatements"][customer]
    ]
    assert rows and all(row[8] == 0 and row[9] == "settled" for row in rows)
    assert all(row[7] == row[6] for row in rows)  # settled = difference


def test_finalized_invoices_pdfs_and_ledger_entries_never_change(scenario):
    before = scenario["january_finalized"]
    january = [row for row in before["invoices"] if str(row[0]) == FEB_1]
    assert january
    for later in ("february_drafted", "february_finalized", "january_reclosed", "march_drafted"):
        after = scenario[later]
        assert [row for row in after["invoices"] if row in january] == january
        assert {k: v for k, v in after["pdfs"].items() if k in before["pdfs"]} == before["pdfs"]
        assert set(before["pdfs"]) <= set(after["pdfs"])
    # Each January transaction is still in the ledger, byte for byte.
    transactions = [
        block for block in before["ledger"].split("\n\n") if re.match(r"\d{4}-\d\d-\d\d \*", block)
    ]
    assert transactions
    for block in transactions:
        assert block in scenario["march_drafted"]["ledger"]


def test_a_rerun_of_a_finalized_month_reports_and_the_next_close_bills(scenario):
    assert scenario["january_reclosed"]["restatements"]["cust_more"] == [
        ("std_calls", "charge", 10, 16, D("10"), D("16"), D("6"), D("5"), D("1"), "pending")
    ]
    assert scenario["march_drafted"]["restatements"]["cust_more"][0][-2:] == (D("1"), "drafted")
    april = invoice(scenario["warehouse"], "cust_more", "2025-04-01")
    # 50.00 + the 1.00 adjustment (no March calls); VAT 10.20.
    assert (april["fees"], april["taxes"], april["total"]) == (D("51.00"), D("10.20"), D("61.20"))
