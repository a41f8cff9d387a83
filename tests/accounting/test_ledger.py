"""Tests for the Beancount ledger writer: invoices, credit notes and wallet movements."""

from __future__ import annotations

import re
import subprocess
import sys
from collections import defaultdict
from dataclasses import replace
from datetime import date
from decimal import Decimal
from pathlib import Path

import pytest
from beancount import loader
from beancount.core import data, realization

from orchestration.accounting import (
    RECEIVABLE_ACCOUNT,
    LedgerInvoice,
    LedgerRevenue,
    LedgerTax,
    check_ledger,
    render_ledger,
    sanitize_account_component,
    sync_ledger,
)
from orchestration.accounting.accounts import CREDIT_NOTES_ACCOUNT, CUSTOMER_CREDIT_NOTES_ACCOUNT
from orchestration.accounting.documents import LedgerCredit, LedgerCreditNote, LedgerWalletMovement

BEAN_CHECK = Path(sys.executable).with_name("bean-check")
ENTITY = "Lumen Labs"


def _invoice(
    number: str,
    *,
    currency: str = "USD",
    issuing_date: date = date(2024, 2, 1),
    customer_name: str = "Acme Corp",
    revenues: tuple[LedgerRevenue, ...] = (),
    taxes: tuple[LedgerTax, ...] = (),
    credits: tuple[LedgerCredit, ...] = (),
    total: Decimal | None = None,
) -> LedgerInvoice:
    if total is None:
        total = sum((line.amount for line in (*revenues, *taxes)), Decimal(0))
        total -= sum((credit.amount for credit in credits), Decimal(0))
    return LedgerInvoice(
        invoice_id=f"id-{number}",
        invoice_number=number,
        issuing_date=issuing_date,
        external_customer_id=f"cust-{number}",
        customer_name=customer_name,
        currency=currency,
        total_amount=total,
        revenues=revenues,
        taxes=taxes,
        credits=credits,
    )


@pytest.fixture
def invoices() -> list[LedgerInvoice]:
    """Invoices in USD, EUR, JPY and KWD, including a zero-amount line."""
    return [
        _invoice(
            "LUM-001-001",
            revenues=(
                LedgerRevenue("subscription", "starter_usd", Decimal("49.00")),
                LedgerRevenue("usage", "api_calls", Decimal("12.34")),
                LedgerRevenue("usage", "tokens", Decimal("0.00")),
            ),
            taxes=(LedgerTax("us_ca_sales", Decimal("7.25"), Decimal("4.45")),),
        ),
        _invoice(
            "LUM-002-001",
            currency="EUR",
            issuing_date=date(2024, 2, 1),
            customer_name="Société Générale d'Essai",
            revenues=(
                LedgerRevenue("subscription", "starter_eur", Decimal("45.00")),
                LedgerRevenue("usage", "gpu_seconds", Decimal("100.10")),
            ),
            taxes=(LedgerTax("fr_vat", Decimal("20"), Decimal("29.02")),),
        ),
        _invoice(
            "LUM-003-001",
            currency="JPY",
            issuing_date=date(2024, 3, 1),
            customer_name="Kabushiki Gaisha",
            revenues=(
                LedgerRevenue("subscription", "starter_jpy", Decimal("5000")),
                LedgerRevenue("usage", "api_calls", Decimal("1234")),
            ),
            taxes=(LedgerTax("jp_ct", Decimal("10"), Decimal("623")),),
        ),
        _invoice(
            "LUM-004-001",
            currency="KWD",
            issuing_date=date(2024, 3, 1),
            revenues=(LedgerRevenue("usage", "api_calls", Decimal("12.345")),),
        ),
        _invoice(
            "LUM-001-002",
            issuing_date=date(2024, 3, 1),
            revenues=(LedgerRevenue("subscription", "starter_usd", Decimal("49.00")),),
        ),
    ]


def _transactions(path: Path) -> list[data.Transaction]:
    entries, errors, _ = loader.load_file(str(path))
    assert errors == []
    return [entry for entry in entries if isinstance(entry, data.Transaction)]


def _bean_check(path: Path) -> subprocess.CompletedProcess[str]:
    return subprocess.run([str(BEAN_CHECK), str(path)], capture_output=True, text=True, check=False)


def test_multi_currency_ledger_passes_bean_check(
    tmp_path: Path, invoices: list[LedgerInvoice]
) -> None:
    path = tmp_path / "accounting" / "ledger.beancount"
    result = sync_ledger(path, ENTITY, invoices)

    assert result.changed
    assert result.invoices_posted == result.transactions_written == len(invoices)
    completed = _bean_check(path)
    assert completed.returncode == 0, completed.stdout + completed.stderr
    assert check_ledger(path) == []
    assert list(path.parent.iterdir()) == [path]


def test_sync_twice_is_byte_identical(tmp_path: Path, invoices: list[LedgerInvoice]) -> None:
    path = tmp_path / "ledger.beancount"
    first = sync_ledger(path, ENTITY, invoices)
    first_bytes = path.read_bytes()
    second = sync_ledger(path, ENTITY, list(reversed(invoices)))

    assert first.changed
    assert not second.changed
    assert path.read_bytes() == first_bytes
    assert len(_transactions(path)) == len(invoices)


def test_sync_rewrites_instead_of_appending(tmp_path: Path, invoices: list[LedgerInvoice]) -> None:
    path = tmp_path / "ledger.beancount"
    sync_ledger(path, ENTITY, invoices[:2])
    result = sync_ledger(path, ENTITY, invoices)

    assert result.changed
    assert path.read_text(encoding="utf-8") == render_ledger(ENTITY, invoices)
    numbers = [txn.meta["invoice_number"] for txn in _transactions(path)]
    assert sorted(numbers) == sorted(invoice.invoice_number for invoice in invoices)


def test_transaction_shape(tmp_path: Path, invoices: list[LedgerInvoice]) -> None:
    path = tmp_path / "ledger.beancount"
    sync_ledger(path, ENTITY, invoices)
    by_number = {txn.meta["invoice_number"]: txn for txn in _transactions(path)}

    txn = by_number["LUM-001-001"]
    assert txn.date == date(2024, 2, 1)
    assert txn.payee == "Acme Corp"
    assert txn.narration == "Invoice LUM-001-001"
    assert txn.meta["invoice_id"] == "id-LUM-001-001"
    assert txn.meta["customer"] == "cust-LUM-001-001"
    postings = {(p.account, p.units.number, p.units.currency) for p in txn.postings}
    assert postings == {
        (RECEIVABLE_ACCOUNT, Decimal("65.79"), "USD"),
        ("Income:Subscriptions:Starter-Usd", Decimal("-49.00"), "USD"),
        ("Income:Usage:Api-Calls", Decimal("-12.34"), "USD"),
        ("Liabilities:Tax:Us-Ca-Sales", Decimal("-4.45"), "USD"),
    }
    usage = next(p for p in txn.postings if p.account == "Income:Usage:Api-Calls")
    assert usage.meta["code"] == "api_calls"
    assert usage.meta["kind"] == "usage"


def test_zero_decimal_and_three_decimal_currencies_are_exact(
    invoices: list[LedgerInvoice],
) -> None:
    text = render_ledger(ENTITY, invoices)

    assert "  6857 JPY\n" in text
    assert "  -1234 JPY\n" in text
    assert "  12.345 KWD\n" in text
    assert "  -12.345 KWD\n" in text
    assert "tokens" not in text


def test_receivable_balance_per_currency_equals_invoice_totals(
    tmp_path: Path, invoices: list[LedgerInvoice]
) -> None:
    path = tmp_path / "ledger.beancount"
    sync_ledger(path, ENTITY, invoices)

    balances: dict[str, Decimal] = defaultdict(Decimal)
    for txn in _transactions(path):
        for posting in txn.postings:
            if posting.account == RECEIVABLE_ACCOUNT:
                balances[posting.units.currency] += posting.units.number
    expected: dict[str, Decimal] = defaultdict(Decimal)
    for invoice in invoices:
        expected[invoice.currency] += invoice.total_amount
    assert balances == expected
    assert balances["USD"] == Decimal("114.79")


def test_unbalanced_invoice_raises_and_writes_nothing(tmp_path: Path) -> None:
    bad = _invoice(
        "LUM-009-001",
        revenues=(LedgerRevenue("usage", "api_calls", Decimal("10.00")),),
        taxes=(LedgerTax("us_ca_sales", Decimal("7.25"), Decimal("0.73")),),
        total=Decimal("10.72"),
    )
    path = tmp_path / "ledger.beancount"

    with pytest.raises(ValueError, match="LUM-009-001"):
        sync_ledger(path, ENTITY, [bad])
    assert not path.exists()


@pytest.mark.parametrize("field", ["invoice_id", "invoice_number"])
def test_duplicate_invoices_raise(field: str, invoices: list[LedgerInvoice]) -> None:
    first = invoices[0]
    other = invoices[1]
    clash = LedgerInvoice(
        invoice_id=first.invoice_id if field == "invoice_id" else "id-other",
        invoice_number=first.invoice_number if field == "invoice_number" else "LUM-999",
        issuing_date=other.issuing_date,
        external_customer_id=other.external_customer_id,
        customer_name=other.customer_name,
        currency=other.currency,
        total_amount=other.total_amount,
        revenues=other.revenues,
        taxes=other.taxes,
    )

    with pytest.raises(ValueError, match=f"duplicate {field}"):
        render_ledger(ENTITY, [first, clash])


def test_hostile_strings_still_give_a_valid_ledger(tmp_path: Path) -> None:
    name = 'Acme "Quotes" \\ Co\nNext line\t; not a comment'
    invoice = LedgerInvoice(
        invoice_id='id "1" \\',
        invoice_number='LUM-"1"',
        issuing_date=date(2024, 2, 1),
        external_customer_id="cust\n1",
        customer_name=name,
        currency="USD",
        total_amount=Decimal("1.00"),
        revenues=(LedgerRevenue("usage", 'api "calls"\\', Decimal("1.00")),),
        taxes=(),
    )
    path = tmp_path / "ledger.beancount"
    sync_ledger(path, 'Entity "X" \\', [invoice])

    completed = _bean_check(path)
    assert completed.returncode == 0, completed.stdout + completed.stderr
    (txn,) = _transactions(path)
    assert txn.payee == name
    assert txn.narration == 'Invoice LUM-"1"'
    assert txn.meta["invoice_id"] == 'id "1" \\'
    assert txn.meta["customer"] == "cust\n1"
    assert txn.postings[1].meta["code"] == 'api "calls"\\'


def test_colliding_codes_keep_distinct_accounts(tmp_path: Path) -> None:
    codes = ("api_calls", "api-calls", "API calls", "Api Calls")
    invoice = _invoice(
        "LUM-001-001",
        revenues=tuple(
            LedgerRevenue("usage", code, Decimal(index + 1)) for index, code in enumerate(codes)
        ),
    )
    path = tmp_path / "ledger.beancount"
    sync_ledger(path, ENTITY, [invoice])
    assert check_ledger(path) == []

    (txn,) = _transactions(path)
    usage = {p.meta["code"]: p.account for p in txn.postings if p.account.startswith("Income")}
    assert set(usage) == set(codes)
    assert len(set(usage.values())) == len(codes)
    assert usage["API calls"] == "Income:Usage:API-Calls"
    for code in ("api_calls", "api-calls", "Api Calls"):
        assert usage[code].startswith("Income:Usage:Api-Calls-")
    # Stable: the suffix depends only on the code, not on input order.
    reordered = _invoice("LUM-001-001", revenues=tuple(reversed(invoice.revenues)))
    assert render_ledger(ENTITY, [reordered]) == render_ledger(ENTITY, [invoice])


@pytest.mark.parametrize(
    ("code", "component"),
    [
        ("api_calls", "Api-Calls"),
        ("starter_usd", "Starter-Usd"),
        ("gpu.seconds/v2", "Gpu-Seconds-V2"),
        ("café crème", "Cafe-Creme"),
        ("2024_plan", "2024-Plan"),
        ("__", "Unknown"),
        ("", "Unknown"),
        ("日本", "Unknown"),
    ],
)
def test_sanitize_account_component(code: str, component: str) -> None:
    assert sanitize_account_component(code) == component


def test_same_code_in_two_kinds_gets_two_accounts() -> None:
    invoice = _invoice(
        "LUM-001-001",
        revenues=(
            LedgerRevenue("subscription", "pro", Decimal("10.00")),
            LedgerRevenue("usage", "pro", Decimal("2.00")),
        ),
    )
    text = render_ledger(ENTITY, [invoice])

    assert "open Income:Subscriptions:Pro\n" in text
    assert "open Income:Usage:Pro\n" in text


def test_lines_with_same_kind_and_code_are_aggregated() -> None:
    invoice = _invoice(
        "LUM-001-001",
        revenues=(
            LedgerRevenue("usage", "api_calls", Decimal("1.50")),
            LedgerRevenue("usage", "api_calls", Decimal("2.25")),
        ),
    )
    text = render_ledger(ENTITY, [invoice])

    assert text.count("Income:Usage:Api-Calls ") == 1
    assert "  -3.75 USD\n" in text


def test_zero_invoice_gives_an_empty_transaction(tmp_path: Path) -> None:
    invoice = _invoice(
        "LUM-001-001", revenues=(LedgerRevenue("subscription", "free", Decimal("0.00")),)
    )
    path = tmp_path / "ledger.beancount"
    sync_ledger(path, ENTITY, [invoice])

    (txn,) = _transactions(path)
    assert txn.postings == []
    assert RECEIVABLE_ACCOUNT not in path.read_text(encoding="utf-8")


def test_empty_invoice_list_gives_a_valid_ledger(tmp_path: Path) -> None:
    path = tmp_path / "ledger.beancount"
    result = sync_ledger(path, ENTITY, [])

    assert result.transactions_written == 0
    assert check_ledger(path) == []


def test_unknown_kind_raises() -> None:
    invoice = _invoice("LUM-001-001", revenues=(LedgerRevenue("mystery", "x", Decimal("1.00")),))
    with pytest.raises(ValueError, match="unknown revenue kind 'mystery'"):
        render_ledger(ENTITY, [invoice])


def test_float_amount_is_refused() -> None:
    invoice = _invoice(
        "LUM-001-001",
        revenues=(LedgerRevenue("usage", "api_calls", 1.5),),  # type: ignore[arg-type]
        total=Decimal("1.5"),
    )
    with pytest.raises(TypeError, match="must be a Decimal"):
        render_ledger(ENTITY, [invoice])


def test_currency_exponents_refuse_unrounded_amounts() -> None:
    exponents = {"JPY": 0, "USD": 2}
    good = _invoice(
        "LUM-001-001",
        currency="JPY",
        revenues=(LedgerRevenue("usage", "api_calls", Decimal("100.000000000")),),
    )
    bad = _invoice(
        "LUM-001-002",
        currency="JPY",
        revenues=(LedgerRevenue("usage", "api_calls", Decimal("100.5")),),
    )

    assert "  100.000000000 JPY\n" in render_ledger(ENTITY, [good], currency_exponents=exponents)
    with pytest.raises(ValueError, match="not rounded to 0 decimals"):
        render_ledger(ENTITY, [bad], currency_exponents=exponents)


def test_credit_note_revenue_kind_is_gone() -> None:
    # Applied credit notes are a LedgerCredit now (they use up a liability, not revenue).
    invoice = _invoice(
        "LUM-001-001", revenues=(LedgerRevenue("credit_note", "applied", Decimal("-1.00")),)
    )
    with pytest.raises(ValueError, match="unknown revenue kind 'credit_note'"):
        render_ledger(ENTITY, [invoice])


# --- Credits, credit notes and wallets. ---

PREPAID_MAIN = "Liabilities:Prepaid-Credits:Main"
PREPAID_PROMO = "Liabilities:Prepaid-Credits:Promo"
GRANTED = "Expenses:Granted-Credits"
BREAKAGE = "Income:Prepaid-Credit-Breakage"


def _movement(
    transaction_id: str, wallet: str, kind: str, day: date, amount: str
) -> LedgerWalletMovement:
    return LedgerWalletMovement(
        wallet_transaction_id=transaction_id,
        wallet_code=wallet,
        transaction_type=kind,
        movement_date=day,
        external_customer_id="acme",
        customer_name="Acme Corp",
        currency="USD",
        credits=Decimal(amount),
        amount=Decimal(amount),
    )


def _credit_note(
    number: str = "LUM-001-000-CN1",
    *,
    sub_total: str = "10.00",
    taxes: tuple[LedgerTax, ...] = (LedgerTax("fr_vat", Decimal("20"), Decimal("2.00")),),
    total: str = "12.00",
    credit: str = "12.00",
    refund: str = "0.00",
) -> LedgerCreditNote:
    return LedgerCreditNote(
        credit_note_id=f"id-{number}",
        credit_note_number=number,
        invoice_number="LUM-001-000",
        issuing_date=date(2024, 1, 20),
        external_customer_id="acme",
        customer_name="Acme Corp",
        currency="USD",
        reason="termination",
        sub_total_excluding_taxes_amount=Decimal(sub_total),
        taxes=taxes,
        total_amount=Decimal(total),
        credit_amount=Decimal(credit),
        refund_amount=Decimal(refund),
    )


@pytest.fixture
def full_invoice() -> LedgerInvoice:
    """Fees 150.00, two coupons (15.00), two taxes (33.75), a credit note (12.00), two wallets
    (70.00): total 86.75."""
    return _invoice(
        "LUM-001-002",
        revenues=(
            LedgerRevenue("subscription", "pro", Decimal("100.00")),
            LedgerRevenue("usage", "api_calls", Decimal("50.00")),
        ),
        taxes=(
            LedgerTax("fr_vat", Decimal("20"), Decimal("27.00")),
            LedgerTax("eco_levy", Decimal("5"), Decimal("6.75")),
        ),
        credits=(
            LedgerCredit("coupon", "WELCOME", Decimal("10.00")),
            LedgerCredit("coupon", "loyalty", Decimal("5.00")),
            LedgerCredit("credit_note", "id-LUM-001-000-CN1", Decimal("12.00")),
            LedgerCredit("prepaid_credit", "main", Decimal("50.00")),
            LedgerCredit("prepaid_credit", "promo", Decimal("20.00")),
        ),
        total=Decimal("86.75"),
    )


@pytest.fixture
def documents(full_invoice: LedgerInvoice) -> dict[str, list]:
    """One customer's January and February: a taxed invoice, a credit note on it, a wallet
    purchase, the invoice that uses the note and both wallets, and grants, a void and expiries."""
    invoices = [
        _invoice(
            "LUM-001-000",
            issuing_date=date(2024, 1, 1),
            revenues=(LedgerRevenue("subscription", "pro", Decimal("100.00")),),
            taxes=(LedgerTax("fr_vat", Decimal("20"), Decimal("20.00")),),
        ),
        _invoice(  # the wallet purchase: a `credit` invoice, never taxed
            "LUM-001-001",
            issuing_date=date(2024, 1, 5),
            revenues=(
                LedgerRevenue("prepaid_credit", "main", Decimal("60.00")),
                LedgerRevenue("prepaid_credit", "promo", Decimal("30.00")),
            ),
        ),
        full_invoice,
    ]
    movements = [
        _movement("wt-1", "main", "granted", date(2024, 1, 2), "20.00"),
        _movement("wt-2", "promo", "granted", date(2024, 1, 2), "10.00"),
        _movement("wt-3", "main", "voided", date(2024, 1, 31), "5.00"),
        _movement("wt-4", "main", "expired", date(2024, 2, 29), "10.00"),
        _movement("wt-5", "promo", "expired", date(2024, 2, 29), "20.00"),
    ]
    return {"invoices": invoices, "credit_notes": [_credit_note()], "wallet_movements": movements}


def _sync(path: Path, documents: dict[str, list]):
    return sync_ledger(
        path,
        ENTITY,
        documents["invoices"],
        credit_notes=documents["credit_notes"],
        wallet_movements=documents["wallet_movements"],
    )


def _postings(txn: data.Transaction) -> set[tuple[str, Decimal]]:
    return {(p.account, p.units.number) for p in txn.postings}


def test_invoice_with_coupons_taxes_credit_note_and_wallets(
    tmp_path: Path, full_invoice: LedgerInvoice
) -> None:
    path = tmp_path / "ledger.beancount"
    sync_ledger(path, ENTITY, [full_invoice])

    completed = _bean_check(path)
    assert completed.returncode == 0, completed.stdout + completed.stderr
    (txn,) = _transactions(path)
    assert _postings(txn) == {
        (RECEIVABLE_ACCOUNT, Decimal("86.75")),
        ("Income:Subscriptions:Pro", Decimal("-100.00")),
        ("Income:Usage:Api-Calls", Decimal("-50.00")),
        ("Income:Discounts:WELCOME", Decimal("10.00")),
        ("Income:Discounts:Loyalty", Decimal("5.00")),
        ("Liabilities:Tax:Fr-Vat", Decimal("-27.00")),
        ("Liabilities:Tax:Eco-Levy", Decimal("-6.75")),
        (CUSTOMER_CREDIT_NOTES_ACCOUNT, Decimal("12.00")),
        (PREPAID_MAIN, Decimal("50.00")),
        (PREPAID_PROMO, Decimal("20.00")),
    }
    note = next(p for p in txn.postings if p.account == CUSTOMER_CREDIT_NOTES_ACCOUNT)
    assert (note.meta["kind"], note.meta["code"]) == ("credit_note", "id-LUM-001-000-CN1")
    vat = next(p for p in txn.postings if p.account == "Liabilities:Tax:Fr-Vat")
    assert (vat.meta["tax_code"], vat.meta["tax_rate"]) == ("fr_vat", Decimal("20"))


def test_credits_of_the_same_kind_and_code_are_aggregated() -> None:
    invoice = _invoice(
        "LUM-001-001",
        revenues=(LedgerRevenue("usage", "api_calls", Decimal("10.00")),),
        credits=(
            LedgerCredit("coupon", "WELCOME", Decimal("1.00")),
            LedgerCredit("coupon", "WELCOME", Decimal("2.00")),
        ),
    )
    text = render_ledger(ENTITY, [invoice])

    assert text.count("Income:Discounts:WELCOME ") == 1
    assert "  3.00 USD\n" in text


def test_credit_note_with_two_tax_rates_and_a_refund(tmp_path: Path) -> None:
    note = _credit_note(
        sub_total="100.00",
        taxes=(
            LedgerTax("fr_vat", Decimal("20"), Decimal("15.00")),
            LedgerTax("fr_vat_reduced", Decimal("5.5"), Decimal("1.38")),
        ),
        total="116.38",
        credit="100.00",
        refund="16.38",
    )
    path = tmp_path / "ledger.beancount"
    result = sync_ledger(path, ENTITY, [], credit_notes=[note])

    assert (result.invoices_posted, result.credit_notes_posted) == (0, 1)
    assert result.transactions_written == 1
    completed = _bean_check(path)
    assert completed.returncode == 0, completed.stdout + completed.stderr
    (txn,) = _transactions(path)
    assert txn.narration == "Credit note LUM-001-000-CN1"
    assert txn.meta["credit_note_id"] == "id-LUM-001-000-CN1"
    assert txn.meta["credited_invoice"] == "LUM-001-000"
    assert txn.meta["reason"] == "termination"
    assert _postings(txn) == {
        (CREDIT_NOTES_ACCOUNT, Decimal("100.00")),
        ("Liabilities:Tax:Fr-Vat", Decimal("15.00")),
        ("Liabilities:Tax:Fr-Vat-Reduced", Decimal("1.38")),
        (CUSTOMER_CREDIT_NOTES_ACCOUNT, Decimal("-100.00")),
        (RECEIVABLE_ACCOUNT, Decimal("-16.38")),
    }


def test_credit_note_without_refund_has_no_receivable_posting(tmp_path: Path) -> None:
    path = tmp_path / "ledger.beancount"
    sync_ledger(path, ENTITY, [], credit_notes=[_credit_note()])

    (txn,) = _transactions(path)
    assert RECEIVABLE_ACCOUNT not in {p.account for p in txn.postings}


@pytest.mark.parametrize(
    ("changes", "message"),
    [
        ({"total": "12.01", "credit": "12.01"}, "sub_total_excluding_taxes + taxes = 12.00"),
        ({"credit": "11.00"}, "credit_amount + refund_amount = 11.00"),
    ],
)
def test_unbalanced_credit_note_raises_and_writes_nothing(
    tmp_path: Path, changes: dict[str, str], message: str
) -> None:
    path = tmp_path / "ledger.beancount"

    with pytest.raises(
        ValueError, match=re.escape(f"(LUM-001-000-CN1) does not balance: {message}")
    ):
        sync_ledger(path, ENTITY, [], credit_notes=[_credit_note(**changes)])
    assert not path.exists()


def test_wallet_purchase_grants_voids_and_expiries(tmp_path: Path) -> None:
    purchase = _invoice(
        "LUM-001-001",
        revenues=(LedgerRevenue("prepaid_credit", "main", Decimal("60.00")),),
    )
    movements = [
        _movement("wt-1", "main", "granted", date(2024, 1, 2), "20.00"),
        _movement("wt-3", "main", "voided", date(2024, 1, 31), "5.00"),
        _movement("wt-4", "main", "expired", date(2024, 2, 29), "10.00"),
    ]
    path = tmp_path / "ledger.beancount"
    sync_ledger(path, ENTITY, [purchase], wallet_movements=movements)

    completed = _bean_check(path)
    assert completed.returncode == 0, completed.stdout + completed.stderr
    by_id = {txn.meta.get("wallet_transaction_id", "purchase"): txn for txn in _transactions(path)}
    assert _postings(by_id["purchase"]) == {
        (RECEIVABLE_ACCOUNT, Decimal("60.00")),
        (PREPAID_MAIN, Decimal("-60.00")),
    }
    assert _postings(by_id["wt-1"]) == {
        (GRANTED, Decimal("20.00")),
        (PREPAID_MAIN, Decimal("-20.00")),
    }
    assert _postings(by_id["wt-3"]) == {
        (PREPAID_MAIN, Decimal("5.00")),
        (BREAKAGE, Decimal("-5.00")),
    }
    assert _postings(by_id["wt-4"]) == {
        (PREPAID_MAIN, Decimal("10.00")),
        (BREAKAGE, Decimal("-10.00")),
    }
    assert by_id["wt-4"].narration == "Wallet main: expired credits"
    assert by_id["wt-4"].meta["credits"] == Decimal("10.00")
    assert [txn.date for txn in _transactions(path)] == sorted(txn.date for txn in by_id.values())


def test_balances_follow_the_documents(tmp_path: Path, documents: dict[str, list]) -> None:
    path = tmp_path / "ledger.beancount"
    result = _sync(path, documents)

    assert (result.invoices_posted, result.credit_notes_posted) == (3, 1)
    assert (result.wallet_movements_posted, result.transactions_written) == (5, 9)
    completed = _bean_check(path)
    assert completed.returncode == 0, completed.stdout + completed.stderr
    entries, errors, _ = loader.load_file(str(path))
    assert errors == []
    real_root = realization.realize(entries)

    def balance(account: str) -> Decimal:
        real_account = realization.get(real_root, account)
        assert real_account is not None, account
        return real_account.balance.get_currency_units("USD").number

    # What each wallet still owes: granted + purchased - consumed - voided - expired.
    moved: dict[tuple[str, str], Decimal] = defaultdict(Decimal)
    for movement in documents["wallet_movements"]:
        moved[(movement.wallet_code, movement.transaction_type)] += movement.amount
    for invoice in documents["invoices"]:
        for revenue in invoice.revenues:
            if revenue.revenue_kind == "prepaid_credit":
                moved[(revenue.code, "purchased")] += revenue.amount
        for credit in invoice.credits:
            if credit.credit_kind == "prepaid_credit":
                moved[(credit.code, "consumed")] += credit.amount
    for wallet, account in (("main", PREPAID_MAIN), ("promo", PREPAID_PROMO)):
        owed = moved[(wallet, "granted")] + moved[(wallet, "purchased")]
        owed -= moved[(wallet, "consumed")] + moved[(wallet, "voided")] + moved[(wallet, "expired")]
        assert balance(account) == -owed
    assert balance(PREPAID_MAIN) == Decimal("-15.00")  # 20 + 60 - 50 - 5 - 10
    assert balance(PREPAID_PROMO) == 0  # 10 + 30 - 20 - 20
    assert balance(GRANTED) == Decimal("30.00")
    assert balance(BREAKAGE) == Decimal("-35.00")
    assert balance(CUSTOMER_CREDIT_NOTES_ACCOUNT) == 0  # issued 12.00, then used
    assert balance(RECEIVABLE_ACCOUNT) == Decimal("296.75")  # 120.00 + 90.00 + 86.75
    assert balance("Liabilities:Tax:Fr-Vat") == Decimal("-45.00")  # 20 + 27 - 2 reversed


def test_sync_all_documents_twice_is_byte_identical(
    tmp_path: Path, documents: dict[str, list]
) -> None:
    path = tmp_path / "ledger.beancount"
    first = _sync(path, documents)
    first_bytes = path.read_bytes()
    second = _sync(path, {kind: list(reversed(docs)) for kind, docs in documents.items()})

    assert first.changed
    assert not second.changed
    assert path.read_bytes() == first_bytes
    assert len(_transactions(path)) == first.transactions_written == 9


def test_same_wallet_code_shares_one_account_across_documents(
    documents: dict[str, list],
) -> None:
    text = render_ledger(
        ENTITY,
        documents["invoices"],
        credit_notes=documents["credit_notes"],
        wallet_movements=documents["wallet_movements"],
    )

    assert text.count(f"open {PREPAID_MAIN}\n") == 1
    assert "Prepaid-Credits:Main-" not in text


@pytest.mark.parametrize(
    ("kind", "message"),
    [
        ("purchased", "purchased credits are booked by the credit invoice"),
        ("consumed", "consumed credits are booked by the prepaid_credit credits"),
        ("refunded", "unknown wallet transaction type 'refunded'"),
    ],
)
def test_wallet_movements_booked_elsewhere_or_unknown_are_refused(kind: str, message: str) -> None:
    movement = _movement("wt-1", "main", kind, date(2024, 1, 2), "20.00")
    with pytest.raises(ValueError, match=message):
        render_ledger(ENTITY, [], wallet_movements=[movement])


def test_unknown_credit_kind_raises() -> None:
    invoice = _invoice(
        "LUM-001-001",
        revenues=(LedgerRevenue("usage", "api_calls", Decimal("10.00")),),
        credits=(LedgerCredit("gift_card", "x", Decimal("1.00")),),
    )
    with pytest.raises(ValueError, match="unknown credit kind 'gift_card'"):
        render_ledger(ENTITY, [invoice])


def test_negative_credit_is_refused() -> None:
    invoice = _invoice(
        "LUM-001-001",
        revenues=(LedgerRevenue("usage", "api_calls", Decimal("10.00")),),
        credits=(LedgerCredit("coupon", "WELCOME", Decimal("-1.00")),),
    )
    with pytest.raises(ValueError, match="must not be negative"):
        render_ledger(ENTITY, [invoice])


def test_invoice_with_credits_must_balance(full_invoice: LedgerInvoice) -> None:
    bad = _invoice(
        "LUM-001-002",
        revenues=full_invoice.revenues,
        taxes=full_invoice.taxes,
        credits=full_invoice.credits[:-1],  # the promo wallet's 20.00 is missing
        total=full_invoice.total_amount,
    )
    with pytest.raises(ValueError, match=re.escape("revenues + taxes - credits = 106.75")):
        render_ledger(ENTITY, [bad])


def test_float_amounts_are_refused_in_every_document() -> None:
    with pytest.raises(TypeError, match="refund_amount must be a Decimal"):
        note = replace(_credit_note(), refund_amount=0.0)
        render_ledger(ENTITY, [], credit_notes=[note])
    movement = LedgerWalletMovement(
        wallet_transaction_id="wt-1",
        wallet_code="main",
        transaction_type="granted",
        movement_date=date(2024, 1, 2),
        external_customer_id="acme",
        customer_name="Acme Corp",
        currency="USD",
        credits=Decimal(20),
        amount=20.0,  # type: ignore[arg-type]
    )
    with pytest.raises(TypeError, match="amount must be a Decimal"):
        render_ledger(ENTITY, [], wallet_movements=[movement])


def test_currency_exponents_apply_to_credit_notes_and_wallets() -> None:
    exponents = {"USD": 2}
    note = replace(_credit_note(), refund_amount=Decimal("0.001"))
    with pytest.raises(
        ValueError, match=re.escape("refund_amount 0.001 is not rounded to 2 decimals")
    ):
        render_ledger(ENTITY, [], credit_notes=[note], currency_exponents=exponents)
    movement = _movement("wt-1", "main", "granted", date(2024, 1, 2), "0.001")
    with pytest.raises(ValueError, match=re.escape("amount 0.001 is not rounded")):
        render_ledger(ENTITY, [], wallet_movements=[movement], currency_exponents=exponents)


def test_duplicate_credit_notes_raise() -> None:
    with pytest.raises(ValueError, match="duplicate credit_note_id"):
        render_ledger(ENTITY, [], credit_notes=[_credit_note(), _credit_note()])
    renumbered = replace(_credit_note(), credit_note_id="id-other")
    with pytest.raises(ValueError, match="duplicate credit_note_number"):
        render_ledger(ENTITY, [], credit_notes=[_credit_note(), renumbered])


def test_duplicate_wallet_movements_raise() -> None:
    movement = _movement("wt-1", "main", "granted", date(2024, 1, 2), "1.00")
    with pytest.raises(ValueError, match="duplicate wallet_transaction_id"):
        render_ledger(ENTITY, [], wallet_movements=[movement, movement])
