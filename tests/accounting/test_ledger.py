"""Tests for the Beancount receivables ledger writer."""

from __future__ import annotations

import subprocess
import sys
from collections import defaultdict
from datetime import date
from decimal import Decimal
from pathlib import Path

import pytest
from beancount import loader
from beancount.core import data

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
    total: Decimal | None = None,
) -> LedgerInvoice:
    if total is None:
        total = sum((line.amount for line in (*revenues, *taxes)), Decimal(0))
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
