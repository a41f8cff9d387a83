"""Check each ledger document before it is posted: texts, dates, Decimal amounts, kinds, balance.

A document that fails raises ValueError, and the ledger is not written.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Mapping, Sequence
from datetime import date, datetime
from decimal import Decimal, Inexact

from orchestration.accounting.accounts import (
    CREDIT_ACCOUNT_ROOTS,
    REVENUE_ACCOUNT_ROOTS,
    WALLET_MOVEMENT_ACCOUNTS,
)
from orchestration.accounting.beancount_text import format_number
from orchestration.accounting.documents import (
    LedgerCreditNote,
    LedgerInvoice,
    LedgerTax,
    LedgerWalletMovement,
)
from orchestration.accounting.exact import EXACT, exact_sum

# Wallet movements that invoices book; given as movements they would be counted twice.
_BOOKED_BY_INVOICES: Mapping[str, str] = {
    "purchased": "the credit invoice's prepaid_credit lines",
    "consumed": "the prepaid_credit credits of the invoices that used them",
}

_CURRENCY_RE = re.compile(r"[A-Z]{3}")


def _check_texts(where: str, texts: Iterable[object]) -> None:
    if not all(isinstance(text, str) for text in texts):
        raise TypeError(f"{where}: ids, names, codes and currency must be str")


def _check_date(where: str, name: str, value: object) -> None:
    if isinstance(value, datetime) or not isinstance(value, date):
        raise TypeError(f"{where}: {name} must be a date")


def _currency_exponent(
    where: str, currency: str, exponents: Mapping[str, int] | None
) -> int | None:
    if not _CURRENCY_RE.fullmatch(currency):
        raise ValueError(f"{where}: currency {currency!r} is not ISO 4217")
    if exponents is None:
        return None
    if currency not in exponents:
        raise ValueError(f"{where}: no exponent known for {currency}")
    return exponents[currency]


def _check_amount(where: str, label: str, amount: object) -> Decimal:
    if not isinstance(amount, Decimal):
        raise TypeError(f"{where}: {label} must be a Decimal, got {type(amount).__name__}")
    if not amount.is_finite():
        raise ValueError(f"{where}: {label} is not finite ({amount})")
    return amount


def _check_money(
    where: str,
    label: str,
    amount: object,
    currency: str,
    exponent: int | None,
    *,
    non_negative: bool = False,
) -> None:
    number = _check_amount(where, label, amount)
    if exponent is not None:
        try:
            EXACT.quantize(number, Decimal(1).scaleb(-exponent))
        except Inexact:
            raise ValueError(
                f"{where}: {label} {amount} is not rounded to {exponent} decimals ({currency})"
            ) from None
    if non_negative and number < 0:
        raise ValueError(f"{where}: {label} must not be negative ({amount})")


def _check_taxes(
    where: str, taxes: Sequence[LedgerTax], currency: str, exponent: int | None
) -> None:
    for tax in taxes:
        _check_amount(where, f"tax {tax.tax_code!r} rate", tax.rate)
        _check_money(where, f"tax {tax.tax_code!r}", tax.amount, currency, exponent)


def validate_invoice(invoice: LedgerInvoice, exponents: Mapping[str, int] | None) -> None:
    where = f"invoice {invoice.invoice_id!r}"
    texts = [invoice.invoice_id, invoice.invoice_number, invoice.external_customer_id]
    texts += [invoice.customer_name, invoice.currency]
    texts += [text for revenue in invoice.revenues for text in (revenue.revenue_kind, revenue.code)]
    texts += [tax.tax_code for tax in invoice.taxes]
    texts += [text for credit in invoice.credits for text in (credit.credit_kind, credit.code)]
    _check_texts(where, texts)
    if not invoice.invoice_id or not invoice.invoice_number:
        raise ValueError(f"{where}: invoice_id and invoice_number must be set")
    _check_date(where, "issuing_date", invoice.issuing_date)
    currency = invoice.currency
    exponent = _currency_exponent(where, currency, exponents)

    _check_money(where, "total_amount", invoice.total_amount, currency, exponent)
    for revenue in invoice.revenues:
        if revenue.revenue_kind not in REVENUE_ACCOUNT_ROOTS:
            raise ValueError(
                f"{where}: unknown revenue kind {revenue.revenue_kind!r}; "
                f"add it to REVENUE_ACCOUNT_ROOTS"
            )
        label = f"{revenue.revenue_kind} {revenue.code!r}"
        _check_money(where, label, revenue.amount, currency, exponent)
    _check_taxes(where, invoice.taxes, currency, exponent)
    for credit in invoice.credits:
        if credit.credit_kind not in CREDIT_ACCOUNT_ROOTS:
            raise ValueError(
                f"{where}: unknown credit kind {credit.credit_kind!r}; "
                f"add it to CREDIT_ACCOUNT_ROOTS"
            )
        label = f"{credit.credit_kind} credit {credit.code!r}"
        _check_money(where, label, credit.amount, currency, exponent, non_negative=True)

    charged = exact_sum(
        [revenue.amount for revenue in invoice.revenues] + [tax.amount for tax in invoice.taxes]
    )
    lines_total = EXACT.subtract(charged, exact_sum(c.amount for c in invoice.credits))
    if lines_total != invoice.total_amount:
        raise ValueError(
            f"{where} ({invoice.invoice_number}) does not balance: revenues + taxes - credits "
            f"= {format_number(lines_total)} {currency}, total_amount = "
            f"{format_number(invoice.total_amount)} {currency}"
        )


def validate_credit_note(note: LedgerCreditNote, exponents: Mapping[str, int] | None) -> None:
    where = f"credit note {note.credit_note_id!r}"
    texts = [note.credit_note_id, note.credit_note_number, note.invoice_number]
    texts += [note.external_customer_id, note.customer_name, note.currency, note.reason]
    texts += [tax.tax_code for tax in note.taxes]
    _check_texts(where, texts)
    if not note.credit_note_id or not note.credit_note_number:
        raise ValueError(f"{where}: credit_note_id and credit_note_number must be set")
    _check_date(where, "issuing_date", note.issuing_date)
    currency = note.currency
    exponent = _currency_exponent(where, currency, exponents)

    for label in ("sub_total_excluding_taxes_amount", "total_amount"):
        _check_money(where, label, getattr(note, label), currency, exponent)
    for label in ("credit_amount", "refund_amount"):
        _check_money(where, label, getattr(note, label), currency, exponent, non_negative=True)
    _check_taxes(where, note.taxes, currency, exponent)

    credited = EXACT.add(
        note.sub_total_excluding_taxes_amount, exact_sum(tax.amount for tax in note.taxes)
    )
    settled = EXACT.add(note.credit_amount, note.refund_amount)
    sums = {"sub_total_excluding_taxes + taxes": credited, "credit_amount + refund_amount": settled}
    for label, amount in sums.items():
        if amount != note.total_amount:
            raise ValueError(
                f"{where} ({note.credit_note_number}) does not balance: {label} = "
                f"{format_number(amount)} {currency}, total_amount = "
                f"{format_number(note.total_amount)} {currency}"
            )


def validate_wallet_movement(
    movement: LedgerWalletMovement, exponents: Mapping[str, int] | None
) -> None:
    where = f"wallet transaction {movement.wallet_transaction_id!r}"
    texts = [movement.wallet_transaction_id, movement.wallet_code, movement.transaction_type]
    texts += [movement.external_customer_id, movement.customer_name, movement.currency]
    _check_texts(where, texts)
    if not movement.wallet_transaction_id:
        raise ValueError(f"{where}: wallet_transaction_id must be set")
    kind = movement.transaction_type
    if kind in _BOOKED_BY_INVOICES:
        raise ValueError(
            f"{where}: {kind} credits are booked by {_BOOKED_BY_INVOICES[kind]}, "
            f"not as a wallet movement"
        )
    if kind not in WALLET_MOVEMENT_ACCOUNTS:
        raise ValueError(
            f"{where}: unknown wallet transaction type {kind!r}; add it to WALLET_MOVEMENT_ACCOUNTS"
        )
    _check_date(where, "movement_date", movement.movement_date)
    currency = movement.currency
    exponent = _currency_exponent(where, currency, exponents)
    _check_amount(where, "credits", movement.credits)
    _check_money(where, "amount", movement.amount, currency, exponent, non_negative=True)


def refuse_duplicates(field: str, values: Iterable[str]) -> None:
    seen: set[str] = set()
    for value in values:
        if value in seen:
            raise ValueError(f"duplicate {field} {value!r}")
        seen.add(value)
