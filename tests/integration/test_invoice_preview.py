"""`meterhouse preview` end to end (docs/preview.md): the preview of an invoice with a coupon and a
wallet equals the draft the close of its month then produces, and a preview writes nothing else.

The workspace is a copy of the session's scenario (tests/conftest.py: October 2026 closed and
finalized, so the real warehouse has numbers, finalized invoices and a ledger to leave alone), plus
November inputs for `cust_us` (starter_usd, 49.00 in advance, usage in arrears, 7.25 % tax): the
LAUNCH10 coupon (10 % off two invoices) applied on Nov 2, a wallet of 30 credits at 1.00 granted on
Nov 3, November usage up to Nov 20 and one event on Dec 3, after the preview instant. The invoice
of November's period, issued Dec 1, holds December's fee and November's usage, less the coupon,
plus the tax, less the wallet.
"""

import shutil
from pathlib import Path

import pytest
from conftest import query, write_ndjson

from orchestration.cli import main

pytestmark = pytest.mark.integration

# The preview instant: November's last event. A December event is loaded too, so without
# --as-of the preview would be December's.
AS_OF = "2026-11-20T10:00:00"


def add_november(landing: Path) -> None:
    """cust_us's coupon, wallet and November usage (the module docstring)."""
    write_ndjson(
        landing / "applied_coupons" / "nov_coupons.ndjson",
        [
            {
                "external_customer_id": "cust_us",
                "coupon_code": "LAUNCH10",
                "applied_at": "2026-11-02T00:00:00Z",
                "amount_override": None,
                "percentage_rate_override": None,
            }
        ],
    )
    write_ndjson(
        landing / "wallets" / "nov_wallets.ndjson",
        [
            {
                "wallet_code": "us_prepaid",
                "external_customer_id": "cust_us",
                "currency": "USD",
                "rate_amount": "1.00",
                "priority": "1",
                "allowed_line_types": "",
                "metric_codes": "",
                "created_at": "2026-11-03T00:00:00Z",
                "expires_at": "",
            }
        ],
    )
    write_ndjson(
        landing / "wallet_transactions" / "nov_wallet_transactions.ndjson",
        [
            {
                "wallet_code": "us_prepaid",
                "transaction_type": "granted",
                "credits": "30",
                "created_at": "2026-11-03T00:00:00Z",
                "paid_at": "",
            }
        ],
    )
    calls = [
        {
            "transaction_id": f"nov_call_{i}",
            "external_subscription_id": "sub_us",
            "code": "api_calls",
            "timestamp": f"2026-11-{1 + i % 20:02d}T10:00:00Z",
            "properties": {"endpoint": "/v1/chat"},
        }
        for i in range(3000)
    ]
    tokens = [
        {
            "transaction_id": f"nov_tokens_{i}",
            "external_subscription_id": "sub_us",
            "code": "tokens",
            "timestamp": "2026-11-05T10:00:00Z",
            "properties": {"tokens": 40000},
        }
        for i in range(3)
    ]
    december = {**calls[0], "transaction_id": "dec_call", "timestamp": "2026-12-03T10:00:00Z"}
    write_ndjson(landing / "events" / "nov_events.ndjson", [*calls, *tokens, december])


# What a preview must leave as it is in the real warehouse: invoices (drafts and finalized),
# lines, credits, wallet transactions, numbers and the record of closes.
BILLED = {
    "invoices": "select * from billing.fct_invoices order by invoice_id",
    "lines": "select * from billing.fct_invoice_lines order by invoice_line_id",
    "credits": "select * from billing.fct_invoice_credits order by invoice_credit_id",
    "wallet_transactions": "select * from billing.fct_wallet_transactions order by all",
    "finalized": "select * from ledger.finalized_invoices order by invoice_id",
    "numbers": "select * from ledger.finalized_customer_numbers order by all",
    "closed_months": "select * from raw.closed_months order by all",
}

# The preview tables hold the close's columns plus these two.
PREVIEW_ONLY = "exclude (preview_as_of_at, previewed_at)"


def billed(warehouse: Path) -> dict[str, list[tuple]]:
    return {name: query(warehouse, sql) for name, sql in BILLED.items()}


def previewed(warehouse: Path, table: str, invoice_ids: list[str]) -> list[tuple]:
    return query(
        warehouse,
        f"select * {PREVIEW_ONLY} from billing.{table} where invoice_id in "
        "(select unnest(?)) order by all",
        [invoice_ids],
    )


def closed(warehouse: Path, table: str, invoice_ids: list[str]) -> list[tuple]:
    return query(
        warehouse,
        f"select * from billing.{table} where invoice_id in (select unnest(?)) order by all",
        [invoice_ids],
    )


def test_preview_equals_the_draft_the_close_then_produces(scenario, tmp_path, capsys) -> None:
    root = tmp_path / "preview"
    root.mkdir()
    shutil.copyfile(scenario["warehouse"], root / "warehouse.duckdb")
    shutil.copytree(scenario["landing"], root / "landing")  # mtimes kept: nothing loads twice
    add_november(root / "landing")
    warehouse = root / "warehouse.duckdb"
    args = [
        f"--catalog={scenario['catalog']}",
        f"--landing={root / 'landing'}",
        f"--warehouse={warehouse}",
        f"--output={root / 'output'}",
    ]
    before = billed(warehouse)

    # The instant with an offset, converted to UTC.
    preview_args = ["--customer", "cust_us", "--as-of", "2026-11-20T11:00:00+01:00"]
    assert main(["preview", *preview_args, *args]) == 0
    printed = capsys.readouterr().out
    assert f"as of {AS_OF.replace('T', ' ')} UTC" in printed
    assert "coupon LAUNCH10" in printed and "prepaid credits (wallet us_prepaid)" in printed

    # Nothing billed: the real warehouse's invoices, balances, numbers and closes are as they were.
    assert billed(warehouse) == before
    assert not scratch_left(warehouse)
    preview = query(
        warehouse,
        "select invoice_id, status, invoice_number, issuing_date, coupons_amount, "
        "prepaid_credit_amount, total_amount, preview_as_of_at "
        "from billing.fct_invoice_previews where external_customer_id = 'cust_us'",
    )
    assert len(preview) == 1
    invoice_id, status, number, issuing, coupons, prepaid, total, as_of = preview[0]
    assert (status, number, str(issuing), as_of.isoformat()) == (
        "preview",
        None,
        "2026-12-01",
        AS_OF,
    )
    # The coupon, the wallet and what is left to pay all show.
    assert coupons > 0 and prepaid == 30 and total > 0
    assert (root / "output" / "marts" / "fct_invoice_previews.parquet").exists()
    # A customer with nothing to preview is refused before any copy.
    assert main(["preview", "--customer", "cust_nobody", *args]) == 2
    assert "cust_nobody has no subscription" in capsys.readouterr().err

    # The real close of November: its draft is the preview, line by line and credit by credit.
    assert main(["close", "--month", "2026-11", *args]) == 0
    ids = [invoice_id]
    amounts = (
        "invoice_id, invoice_type, external_customer_id, currency, fees_amount, "
        "progressive_billing_credit_amount, coupons_amount, sub_total_excluding_taxes_amount, "
        "taxes_amount, sub_total_including_taxes_amount, credit_notes_amount, "
        "prepaid_credit_amount, total_amount, billing_month, issuing_date, billing_period_start, "
        "billing_period_end, payment_due_date"
    )
    draft = query(
        warehouse,
        f"select {amounts} from billing.fct_invoices where external_customer_id = 'cust_us' "
        "and status = 'draft' and issuing_date = date '2026-12-01'",
    )
    assert draft == query(
        warehouse,
        f"select {amounts} from billing.fct_invoice_previews where invoice_id = ?",
        ids,
    )
    for preview_table, mart in (
        ("fct_invoice_preview_lines", "fct_invoice_lines"),
        ("fct_invoice_preview_taxes", "fct_invoice_taxes"),
    ):
        rows = closed(warehouse, mart, ids)
        assert rows and previewed(warehouse, preview_table, ids) == rows, mart
    credits = query(
        warehouse,
        "select * exclude (status) from billing.fct_invoice_credits "
        "where invoice_id = ? order by all",
        ids,
    )
    assert {row[4] for row in credits} == {"coupon", "prepaid_credit"}  # credit_type
    assert credits == query(
        warehouse,
        "select * exclude (status, preview_as_of_at, previewed_at) "
        "from billing.fct_invoice_preview_credits where invoice_id = ? order by all",
        ids,
    )


def scratch_left(warehouse: Path) -> list[Path]:
    """What a preview leaves beside the warehouse but its lock: nothing."""
    return [
        path
        for path in warehouse.parent.iterdir()
        if ".preview" in path.name and not path.name.endswith(".lock")
    ]
