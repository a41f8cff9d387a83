"""The documents the ledger posts: invoices, credit notes, wallet movements, and a sync's result."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date
from decimal import Decimal
from pathlib import Path


@dataclass(frozen=True, slots=True)
class LedgerRevenue:
    """One line of an invoice (a plan fee, a usage charge, wallet credits bought, ...)."""

    revenue_kind: str
    code: str
    amount: Decimal


@dataclass(frozen=True, slots=True)
class LedgerTax:
    """One tax of an invoice or a credit note; ``rate`` is a percentage.

    On an invoice the tax is owed (credited); on a credit note it is given back (debited). The
    amount is positive in both cases.
    """

    tax_code: str
    rate: Decimal
    amount: Decimal


@dataclass(frozen=True, slots=True)
class LedgerCredit:
    """A credit applied to an invoice: a coupon, a credit note or prepaid (wallet) credits.

    ``code`` is the coupon code, the credit note id or the wallet code; ``amount`` is positive
    and reduces the invoice total.
    """

    credit_kind: str
    code: str
    amount: Decimal


@dataclass(frozen=True, slots=True)
class LedgerInvoice:
    """A finalized invoice, with amounts already rounded to its currency.

    It balances when ``Σ revenues + Σ taxes - Σ credits == total_amount``.
    """

    invoice_id: str
    invoice_number: str
    issuing_date: date
    external_customer_id: str
    customer_name: str
    currency: str
    total_amount: Decimal
    revenues: tuple[LedgerRevenue, ...]
    taxes: tuple[LedgerTax, ...]
    credits: tuple[LedgerCredit, ...] = ()


@dataclass(frozen=True, slots=True)
class LedgerCreditNote:
    """A finalized credit note against ``invoice_number``, amounts rounded to its currency.

    It balances when ``sub_total_excluding_taxes_amount + Σ taxes == total_amount ==
    credit_amount + refund_amount``.
    """

    credit_note_id: str
    credit_note_number: str
    invoice_number: str
    issuing_date: date
    external_customer_id: str
    customer_name: str
    currency: str
    reason: str
    sub_total_excluding_taxes_amount: Decimal
    taxes: tuple[LedgerTax, ...]
    total_amount: Decimal
    credit_amount: Decimal
    refund_amount: Decimal


@dataclass(frozen=True, slots=True)
class LedgerWalletMovement:
    """A settled wallet transaction no invoice books (granted, voided or expired credits).

    ``credits`` is the number of wallet credits (metadata only); ``amount`` is their positive
    value in ``currency``.
    """

    wallet_transaction_id: str
    wallet_code: str
    transaction_type: str
    movement_date: date
    external_customer_id: str
    customer_name: str
    currency: str
    credits: Decimal
    amount: Decimal


@dataclass(frozen=True, slots=True)
class LedgerSyncResult:
    """Outcome of ``sync_ledger``; ``changed`` is False when the file was already up to date."""

    path: Path
    invoices_posted: int
    credit_notes_posted: int
    wallet_movements_posted: int
    transactions_written: int
    changed: bool
