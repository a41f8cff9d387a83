"""Turn each checked document into one Beancount transaction: header, metadata, signed postings."""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from datetime import date
from decimal import Decimal

from orchestration.accounting.accounts import (
    CREDIT_ACCOUNT_ROOTS,
    CREDIT_NOTES_ACCOUNT,
    CUSTOMER_CREDIT_NOTES_ACCOUNT,
    POOLED_CREDIT_KINDS,
    PREPAID_CREDITS_ROOT,
    RECEIVABLE_ACCOUNT,
    REVENUE_ACCOUNT_ROOTS,
    TAX_ACCOUNT_ROOT,
    WALLET_MOVEMENT_ACCOUNTS,
)
from orchestration.accounting.beancount_text import escape_string, format_number
from orchestration.accounting.documents import (
    LedgerCreditNote,
    LedgerInvoice,
    LedgerTax,
    LedgerWalletMovement,
)
from orchestration.accounting.exact import EXACT, ZERO
from orchestration.accounting.validation import (
    refuse_duplicates,
    validate_credit_note,
    validate_invoice,
    validate_wallet_movement,
)

# Order of documents sharing a date.
_INVOICE_RANK, _CREDIT_NOTE_RANK, _WALLET_MOVEMENT_RANK = range(3)


@dataclass(frozen=True, slots=True)
class Posting:
    """A posting before its account is resolved; ``amount`` is signed, debits positive.

    ``code`` None posts to ``root`` itself. ``meta`` values are already Beancount literals.
    """

    root: str
    code: str | None
    amount: Decimal
    meta: tuple[tuple[str, str], ...] = ()


@dataclass(frozen=True, slots=True)
class Transaction:
    """One document, ready to render once accounts are resolved."""

    day: date
    rank: int
    number: str
    payee: str
    narration: str
    meta: tuple[tuple[str, str], ...]
    currency: str
    postings: tuple[Posting, ...]


def _kind_code_meta(kind: str, code: str) -> tuple[tuple[str, str], ...]:
    return (("kind", escape_string(kind)), ("code", escape_string(code)))


def _tax_posting(tax: LedgerTax, amount: Decimal) -> Posting:
    meta = (("tax_code", escape_string(tax.tax_code)), ("tax_rate", format_number(tax.rate)))
    return Posting(TAX_ACCOUNT_ROOT, tax.tax_code, amount, meta)


def _aggregate(postings: Iterable[Posting]) -> tuple[Posting, ...]:
    """Sum postings with the same account key and metadata; drop zero amounts."""
    sums: dict[tuple[str, str | None, tuple[tuple[str, str], ...]], Decimal] = {}
    for posting in postings:
        key = (posting.root, posting.code, posting.meta)
        sums[key] = EXACT.add(sums.get(key, ZERO), posting.amount)
    return tuple(
        Posting(root, code, amount, meta)
        for (root, code, meta), amount in sums.items()
        if amount != 0
    )


def _invoice_transaction(invoice: LedgerInvoice) -> Transaction:
    postings = [Posting(RECEIVABLE_ACCOUNT, None, invoice.total_amount)]
    postings.extend(
        Posting(
            REVENUE_ACCOUNT_ROOTS[revenue.revenue_kind],
            revenue.code,
            revenue.amount.copy_negate(),
            _kind_code_meta(revenue.revenue_kind, revenue.code),
        )
        for revenue in invoice.revenues
    )
    postings.extend(_tax_posting(tax, tax.amount.copy_negate()) for tax in invoice.taxes)
    postings.extend(
        Posting(
            CREDIT_ACCOUNT_ROOTS[credit.credit_kind],
            None if credit.credit_kind in POOLED_CREDIT_KINDS else credit.code,
            credit.amount,
            _kind_code_meta(credit.credit_kind, credit.code),
        )
        for credit in invoice.credits
    )
    return Transaction(
        day=invoice.issuing_date,
        rank=_INVOICE_RANK,
        number=invoice.invoice_number,
        payee=invoice.customer_name,
        narration=f"Invoice {invoice.invoice_number}",
        meta=(
            ("invoice_id", escape_string(invoice.invoice_id)),
            ("invoice_number", escape_string(invoice.invoice_number)),
            ("customer", escape_string(invoice.external_customer_id)),
        ),
        currency=invoice.currency,
        postings=_aggregate(postings),
    )


def _credit_note_transaction(note: LedgerCreditNote) -> Transaction:
    postings = [
        Posting(CREDIT_NOTES_ACCOUNT, None, note.sub_total_excluding_taxes_amount),
        *(_tax_posting(tax, tax.amount) for tax in note.taxes),
        Posting(CUSTOMER_CREDIT_NOTES_ACCOUNT, None, note.credit_amount.copy_negate()),
        Posting(RECEIVABLE_ACCOUNT, None, note.refund_amount.copy_negate()),
    ]
    return Transaction(
        day=note.issuing_date,
        rank=_CREDIT_NOTE_RANK,
        number=note.credit_note_number,
        payee=note.customer_name,
        narration=f"Credit note {note.credit_note_number}",
        meta=(
            ("credit_note_id", escape_string(note.credit_note_id)),
            ("credit_note_number", escape_string(note.credit_note_number)),
            ("credited_invoice", escape_string(note.invoice_number)),
            ("customer", escape_string(note.external_customer_id)),
            ("reason", escape_string(note.reason)),
        ),
        currency=note.currency,
        postings=_aggregate(postings),
    )


def _wallet_movement_transaction(movement: LedgerWalletMovement) -> Transaction:
    counter_account, direction = WALLET_MOVEMENT_ACCOUNTS[movement.transaction_type]
    # Credits added to the wallet are owed to the customer: the liability is credited.
    owed = movement.amount.copy_negate() if direction > 0 else movement.amount
    postings = [
        Posting(PREPAID_CREDITS_ROOT, movement.wallet_code, owed),
        Posting(counter_account, None, owed.copy_negate()),
    ]
    return Transaction(
        day=movement.movement_date,
        rank=_WALLET_MOVEMENT_RANK,
        number=movement.wallet_transaction_id,
        payee=movement.customer_name,
        narration=f"Wallet {movement.wallet_code}: {movement.transaction_type} credits",
        meta=(
            ("wallet_transaction_id", escape_string(movement.wallet_transaction_id)),
            ("wallet_code", escape_string(movement.wallet_code)),
            ("transaction_type", escape_string(movement.transaction_type)),
            ("customer", escape_string(movement.external_customer_id)),
            ("credits", format_number(movement.credits)),
        ),
        currency=movement.currency,
        postings=_aggregate(postings),
    )


def build_transactions(
    invoices: Sequence[LedgerInvoice],
    credit_notes: Sequence[LedgerCreditNote],
    wallet_movements: Sequence[LedgerWalletMovement],
    exponents: Mapping[str, int] | None,
) -> list[Transaction]:
    """Validate every document, refuse duplicates, and give the sorted transactions."""
    for invoice in invoices:
        validate_invoice(invoice, exponents)
    for note in credit_notes:
        validate_credit_note(note, exponents)
    for movement in wallet_movements:
        validate_wallet_movement(movement, exponents)
    refuse_duplicates("invoice_id", (invoice.invoice_id for invoice in invoices))
    refuse_duplicates("invoice_number", (invoice.invoice_number for invoice in invoices))
    refuse_duplicates("credit_note_id", (note.credit_note_id for note in credit_notes))
    refuse_duplicates("credit_note_number", (note.credit_note_number for note in credit_notes))
    refuse_duplicates(
        "wallet_transaction_id", (movement.wallet_transaction_id for movement in wallet_movements)
    )

    transactions = [_invoice_transaction(invoice) for invoice in invoices]
    transactions += [_credit_note_transaction(note) for note in credit_notes]
    transactions += [_wallet_movement_transaction(movement) for movement in wallet_movements]
    return sorted(transactions, key=lambda txn: (txn.day, txn.rank, txn.number))
