"""Write finalized invoices, credit notes and wallet movements to a Beancount ledger.

The ledger is a pure function of its documents: ``render_ledger`` sorts everything it writes, so
the same documents always give the same bytes, and ``sync_ledger`` rewrites the whole file
(atomically, and only when its content changes) instead of appending to it. Re-syncing a month
therefore never duplicates an entry.

Each document is a frozen dataclass and becomes exactly one transaction, dated at its own date.
Accounts are ``<root>:<Code>`` with the code sanitized (``sanitize_account_component``), or a root
alone where a single account serves every code; the code then stays in the posting's metadata.

Invoice (``LedgerInvoice``), at its issuing date::

    Assets:Receivable:Customers             total_amount
    Income:<kind root>:<Code>              -line amount   one per line kind and code
    Liabilities:Tax:<TaxCode>              -tax           one per tax code and rate
    Income:Discounts:<CouponCode>           coupon        credits applied to the invoice
    Liabilities:Customer-Credit-Notes       note used       (``LedgerCredit``): one per kind
    Liabilities:Prepaid-Credits:<Wallet>    wallet used     and code

Line kinds map to roots in ``REVENUE_ACCOUNT_ROOTS``; credit kinds in ``CREDIT_ACCOUNT_ROOTS``. A
coupon is contra-revenue; a credit note or prepaid credits use up what the customer was owed. A
wallet purchase is a ``credit`` invoice whose lines have kind ``prepaid_credit``: they credit
``Liabilities:Prepaid-Credits:<Wallet>``, because bought credits are owed until consumed.

Credit note (``LedgerCreditNote``), at its issuing date::

    Income:Credit-Notes                     sub_total_excluding_taxes   contra-revenue
    Liabilities:Tax:<TaxCode>               tax                         reversed, per code and rate
    Liabilities:Customer-Credit-Notes      -credit_amount               credit to use later
    Assets:Receivable:Customers            -refund_amount               when non-zero

Wallet movement (``LedgerWalletMovement``), at its date; only the movements no invoice books
(``WALLET_MOVEMENT_ACCOUNTS``)::

    granted           Expenses:Granted-Credits               amount
                      Liabilities:Prepaid-Credits:<Wallet>  -amount
    voided, expired   Liabilities:Prepaid-Credits:<Wallet>   amount
                      Income:Prepaid-Credit-Breakage        -amount

Purchases and consumptions are refused as movements: the credit invoice and the invoices' prepaid
credits book them. So each ``Liabilities:Prepaid-Credits:<Wallet>`` account ends at what the
wallet still owes: granted + purchased - consumed - voided - expired.

Internally every document is checked, then turned into one ``_Transaction`` (header, metadata and
signed postings, debits positive); accounts are resolved over the whole ledger, so a code always
gets the same account whichever document posts to it.

Amounts arrive already rounded by SQL. This module never rounds: it refuses a document whose
postings do not balance exactly, amounts that are not Decimals, unknown kinds, and (given
``currency_exponents``) amounts not rounded to their currency. Every arithmetic step runs in a
context that traps ``Inexact``, so a sum that would need rounding raises instead.
"""

from __future__ import annotations

import hashlib
import re
import unicodedata
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from datetime import date, datetime
from decimal import (
    Context,
    Decimal,
    DivisionByZero,
    Inexact,
    InvalidOperation,
    Overflow,
    localcontext,
)
from pathlib import Path

from beancount import loader
from beancount.core import account as bc_account
from beancount.core import data as bc_data

from orchestration.files import write_atomically

RECEIVABLE_ACCOUNT = "Assets:Receivable:Customers"
TAX_ACCOUNT_ROOT = "Liabilities:Tax"
PREPAID_CREDITS_ROOT = "Liabilities:Prepaid-Credits"
CUSTOMER_CREDIT_NOTES_ACCOUNT = "Liabilities:Customer-Credit-Notes"
CREDIT_NOTES_ACCOUNT = "Income:Credit-Notes"

# Account root for each invoice line kind; the posting's component is the sanitized code.
# Amounts are signed as they affect the invoice total: a positive amount is credited (revenue),
# a negative one is debited. Kinds missing from this mapping are refused, never posted to a
# guessed account.
REVENUE_ACCOUNT_ROOTS: Mapping[str, str] = {
    "subscription": "Income:Subscriptions",
    "usage": "Income:Usage",
    "commitment": "Income:Commitments",
    "spending_minimum": "Income:Spending-Minimums",
    # Usage an earlier progressive-billing invoice already recognized (negative amounts).
    "progressive_billing_credit": "Income:Progressive-Billing-Credits",
    # Late data billed after its month was finalized (docs/conventions.md), per plan: revenue of the
    # period that booking it now keeps apart from the period's own.
    "restatement": "Income:Restatements",
    # Usage above a spend cap taken off the invoice (docs/rules.md §12b; negative amounts).
    "spend_cap": "Income:Spend-Caps",
    # Wallet credits bought on a `credit` invoice: a liability until consumed, not revenue.
    "prepaid_credit": PREPAID_CREDITS_ROOT,
}

# Account root for each kind of credit applied to an invoice (fct_invoice_credits.credit_type).
# Credit amounts are positive and reduce the invoice total, so they are debited.
CREDIT_ACCOUNT_ROOTS: Mapping[str, str] = {
    "coupon": "Income:Discounts",  # contra-revenue, one account per coupon code
    "credit_note": CUSTOMER_CREDIT_NOTES_ACCOUNT,  # the customer's credit-note balance, used
    "prepaid_credit": PREPAID_CREDITS_ROOT,  # one account per wallet code
}
# Credit kinds posted to their root itself: every credit note shares one customer liability (the
# note id stays in the posting's ``code`` metadata).
POOLED_CREDIT_KINDS = frozenset({"credit_note"})

# Wallet movements booked outside invoices (fct_wallet_transactions.transaction_type): the account
# the liability is moved against, and +1 when the movement adds credits to the wallet (liability
# credited) or -1 when it removes them (liability debited).
WALLET_MOVEMENT_ACCOUNTS: Mapping[str, tuple[str, int]] = {
    "granted": ("Expenses:Granted-Credits", +1),
    "voided": ("Income:Prepaid-Credit-Breakage", -1),
    "expired": ("Income:Prepaid-Credit-Breakage", -1),
}
# Wallet movements that invoices book; given as movements they would be counted twice.
_BOOKED_BY_INVOICES: Mapping[str, str] = {
    "purchased": "the credit invoice's prepaid_credit lines",
    "consumed": "the prepaid_credit credits of the invoices that used them",
}

# Order of documents sharing a date.
_INVOICE_RANK, _CREDIT_NOTE_RANK, _WALLET_MOVEMENT_RANK = range(3)

_CURRENCY_RE = re.compile(r"[A-Z]{3}")
_WORD_RE = re.compile(r"[A-Za-z0-9]+")
_UNKNOWN_COMPONENT = "Unknown"
_HASH_CHARS = 8
_STRING_ESCAPES = {"\\": "\\\\", '"': '\\"', "\n": "\\n", "\r": "\\r", "\t": "\\t"}
_REPLACEMENT_CHAR = "\ufffd"
_DEFAULT_FILE_MODE = 0o644
_ACCOUNT_WIDTH = 44

# Wide enough for any decimal(38, 9) sum; Inexact is trapped so nothing is ever rounded.
_EXACT = Context(prec=200, traps=[InvalidOperation, DivisionByZero, Overflow, Inexact])
_ZERO = Decimal(0)


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


@dataclass(frozen=True, slots=True)
class _Posting:
    """A posting before its account is resolved; ``amount`` is signed, debits positive.

    ``code`` None posts to ``root`` itself. ``meta`` values are already Beancount literals.
    """

    root: str
    code: str | None
    amount: Decimal
    meta: tuple[tuple[str, str], ...] = ()


@dataclass(frozen=True, slots=True)
class _Transaction:
    """One document, ready to render once accounts are resolved."""

    day: date
    rank: int
    number: str
    payee: str
    narration: str
    meta: tuple[tuple[str, str], ...]
    currency: str
    postings: tuple[_Posting, ...]


def sanitize_account_component(code: str) -> str:
    """Turn a code into a Beancount account component (``api_calls`` -> ``Api-Calls``).

    Accents are stripped, every run of other characters becomes one dash, and each word starts
    with an uppercase letter or a digit. An empty result becomes ``Unknown``. The mapping is not
    injective; ``render_ledger`` disambiguates collisions.
    """
    ascii_text = unicodedata.normalize("NFKD", code).encode("ascii", "ignore").decode("ascii")
    words = _WORD_RE.findall(ascii_text)
    component = "-".join(word[0].upper() + word[1:] for word in words)
    return component or _UNKNOWN_COMPONENT


def escape_string(text: str) -> str:
    """Quote ``text`` as a Beancount string literal.

    Backslashes, double quotes, newlines, carriage returns and tabs are escaped (Beancount
    unescapes them back). Other control characters become U+FFFD.
    """
    out = []
    for char in text:
        if char in _STRING_ESCAPES:
            out.append(_STRING_ESCAPES[char])
        elif unicodedata.category(char) == "Cc":
            out.append(_REPLACEMENT_CHAR)
        else:
            out.append(char)
    return '"' + "".join(out) + '"'


def format_number(amount: Decimal) -> str:
    """Write a Decimal exactly, in plain notation (never scientific, never via float)."""
    return format(amount, "f")


def _exact_sum(amounts: Iterable[Decimal]) -> Decimal:
    total = _ZERO
    for amount in amounts:
        total = _EXACT.add(total, amount)
    return total


# --- Validation: refuse a document that cannot be posted as is; never repair it. ---


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
            _EXACT.quantize(number, Decimal(1).scaleb(-exponent))
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


def _validate_invoice(invoice: LedgerInvoice, exponents: Mapping[str, int] | None) -> None:
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

    charged = _exact_sum(
        [revenue.amount for revenue in invoice.revenues] + [tax.amount for tax in invoice.taxes]
    )
    lines_total = _EXACT.subtract(charged, _exact_sum(c.amount for c in invoice.credits))
    if lines_total != invoice.total_amount:
        raise ValueError(
            f"{where} ({invoice.invoice_number}) does not balance: revenues + taxes - credits "
            f"= {format_number(lines_total)} {currency}, total_amount = "
            f"{format_number(invoice.total_amount)} {currency}"
        )


def _validate_credit_note(note: LedgerCreditNote, exponents: Mapping[str, int] | None) -> None:
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

    credited = _EXACT.add(
        note.sub_total_excluding_taxes_amount, _exact_sum(tax.amount for tax in note.taxes)
    )
    settled = _EXACT.add(note.credit_amount, note.refund_amount)
    sums = {"sub_total_excluding_taxes + taxes": credited, "credit_amount + refund_amount": settled}
    for label, amount in sums.items():
        if amount != note.total_amount:
            raise ValueError(
                f"{where} ({note.credit_note_number}) does not balance: {label} = "
                f"{format_number(amount)} {currency}, total_amount = "
                f"{format_number(note.total_amount)} {currency}"
            )


def _validate_wallet_movement(
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


def _refuse_duplicates(field: str, values: Iterable[str]) -> None:
    seen: set[str] = set()
    for value in values:
        if value in seen:
            raise ValueError(f"duplicate {field} {value!r}")
        seen.add(value)


# --- Documents to transactions. ---


def _kind_code_meta(kind: str, code: str) -> tuple[tuple[str, str], ...]:
    return (("kind", escape_string(kind)), ("code", escape_string(code)))


def _tax_posting(tax: LedgerTax, amount: Decimal) -> _Posting:
    meta = (("tax_code", escape_string(tax.tax_code)), ("tax_rate", format_number(tax.rate)))
    return _Posting(TAX_ACCOUNT_ROOT, tax.tax_code, amount, meta)


def _aggregate(postings: Iterable[_Posting]) -> tuple[_Posting, ...]:
    """Sum postings with the same account key and metadata; drop zero amounts."""
    sums: dict[tuple[str, str | None, tuple[tuple[str, str], ...]], Decimal] = {}
    for posting in postings:
        key = (posting.root, posting.code, posting.meta)
        sums[key] = _EXACT.add(sums.get(key, _ZERO), posting.amount)
    return tuple(
        _Posting(root, code, amount, meta)
        for (root, code, meta), amount in sums.items()
        if amount != 0
    )


def _invoice_transaction(invoice: LedgerInvoice) -> _Transaction:
    postings = [_Posting(RECEIVABLE_ACCOUNT, None, invoice.total_amount)]
    postings.extend(
        _Posting(
            REVENUE_ACCOUNT_ROOTS[revenue.revenue_kind],
            revenue.code,
            revenue.amount.copy_negate(),
            _kind_code_meta(revenue.revenue_kind, revenue.code),
        )
        for revenue in invoice.revenues
    )
    postings.extend(_tax_posting(tax, tax.amount.copy_negate()) for tax in invoice.taxes)
    postings.extend(
        _Posting(
            CREDIT_ACCOUNT_ROOTS[credit.credit_kind],
            None if credit.credit_kind in POOLED_CREDIT_KINDS else credit.code,
            credit.amount,
            _kind_code_meta(credit.credit_kind, credit.code),
        )
        for credit in invoice.credits
    )
    return _Transaction(
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


def _credit_note_transaction(note: LedgerCreditNote) -> _Transaction:
    postings = [
        _Posting(CREDIT_NOTES_ACCOUNT, None, note.sub_total_excluding_taxes_amount),
        *(_tax_posting(tax, tax.amount) for tax in note.taxes),
        _Posting(CUSTOMER_CREDIT_NOTES_ACCOUNT, None, note.credit_amount.copy_negate()),
        _Posting(RECEIVABLE_ACCOUNT, None, note.refund_amount.copy_negate()),
    ]
    return _Transaction(
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


def _wallet_movement_transaction(movement: LedgerWalletMovement) -> _Transaction:
    counter_account, direction = WALLET_MOVEMENT_ACCOUNTS[movement.transaction_type]
    # Credits added to the wallet are owed to the customer: the liability is credited.
    owed = movement.amount.copy_negate() if direction > 0 else movement.amount
    postings = [
        _Posting(PREPAID_CREDITS_ROOT, movement.wallet_code, owed),
        _Posting(counter_account, None, owed.copy_negate()),
    ]
    return _Transaction(
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


def _transactions(
    invoices: Sequence[LedgerInvoice],
    credit_notes: Sequence[LedgerCreditNote],
    wallet_movements: Sequence[LedgerWalletMovement],
    exponents: Mapping[str, int] | None,
) -> list[_Transaction]:
    """Validate every document, refuse duplicates, and give the sorted transactions."""
    for invoice in invoices:
        _validate_invoice(invoice, exponents)
    for note in credit_notes:
        _validate_credit_note(note, exponents)
    for movement in wallet_movements:
        _validate_wallet_movement(movement, exponents)
    _refuse_duplicates("invoice_id", (invoice.invoice_id for invoice in invoices))
    _refuse_duplicates("invoice_number", (invoice.invoice_number for invoice in invoices))
    _refuse_duplicates("credit_note_id", (note.credit_note_id for note in credit_notes))
    _refuse_duplicates("credit_note_number", (note.credit_note_number for note in credit_notes))
    _refuse_duplicates(
        "wallet_transaction_id", (movement.wallet_transaction_id for movement in wallet_movements)
    )

    transactions = [_invoice_transaction(invoice) for invoice in invoices]
    transactions += [_credit_note_transaction(note) for note in credit_notes]
    transactions += [_wallet_movement_transaction(movement) for movement in wallet_movements]
    return sorted(transactions, key=lambda txn: (txn.day, txn.rank, txn.number))


# --- Accounts and rendering. ---


def _short_hash(code: str) -> str:
    return hashlib.sha256(code.encode("utf-8")).hexdigest()[:_HASH_CHARS]


def _resolve_accounts(keys: Iterable[tuple[str, str | None]]) -> dict[tuple[str, str | None], str]:
    """Map each (root, code) to an account; codes that sanitize alike get a stable hash suffix.

    A None code is the root itself. Two keys never share an account.
    """
    accounts: dict[tuple[str, str | None], str] = {}
    codes_by_root: dict[str, set[str]] = {}
    for root, code in keys:
        if code is None:
            accounts[(root, None)] = root
        else:
            codes_by_root.setdefault(root, set()).add(code)
    for root, codes in codes_by_root.items():
        by_component: dict[str, list[str]] = {}
        for code in sorted(codes):
            by_component.setdefault(sanitize_account_component(code), []).append(code)
        for component, same in by_component.items():
            for code in same:
                leaf = component if len(same) == 1 else f"{component}-{_short_hash(code)}"
                accounts[(root, code)] = f"{root}:{leaf}"

    owners: dict[str, tuple[str, str | None]] = {}
    for key in sorted(accounts, key=lambda key: (key[0], key[1] or "")):
        account = accounts[key]
        if account in owners or not bc_account.is_valid(account):
            raise ValueError(
                f"cannot give code {key[1]!r} its own account under {key[0]} "
                f"(got {account!r}, also used by {owners.get(account)!r})"
            )
        owners[account] = key
    return accounts


def _amount_column(account: str, amount: Decimal, currency: str) -> str:
    return f"  {account:<{_ACCOUNT_WIDTH}}  {format_number(amount)} {currency}"


def render_ledger(
    entity_name: str,
    invoices: Sequence[LedgerInvoice],
    *,
    credit_notes: Sequence[LedgerCreditNote] = (),
    wallet_movements: Sequence[LedgerWalletMovement] = (),
    currency_exponents: Mapping[str, int] | None = None,
) -> str:
    """Render the whole ledger for the documents; the same input always gives the same text.

    Raises ValueError for duplicate ids or numbers, unknown kinds and documents whose postings do
    not balance exactly, TypeError for floats and other non-Decimal amounts. When
    ``currency_exponents`` (ISO 4217 minor units, e.g. ``{"JPY": 0}``) is given, amounts must
    also be rounded to their currency.
    """
    transactions = _transactions(invoices, credit_notes, wallet_movements, currency_exponents)
    accounts = _resolve_accounts(
        {(posting.root, posting.code) for txn in transactions for posting in txn.postings}
    )

    lines = [
        "; Generated by Meterhouse from finalized invoices, credit notes and wallet transactions;"
        " rewritten on every sync, do not edit.",
        'option "title" ' + escape_string(f"{entity_name} billing ledger"),
    ]
    currencies = sorted({txn.currency for txn in transactions})
    lines.extend(f'option "operating_currency" "{currency}"' for currency in currencies)
    if transactions:
        opened = transactions[0].day.isoformat()
        lines.append("")
        lines.extend(f"{opened} commodity {currency}" for currency in currencies)
        lines.append("")
        lines.extend(f"{opened} open {account}" for account in sorted(set(accounts.values())))

    for txn in transactions:
        lines.append("")
        lines.extend(_render_transaction(txn, accounts))
    return "\n".join(lines) + "\n"


def _render_transaction(
    txn: _Transaction, accounts: Mapping[tuple[str, str | None], str]
) -> list[str]:
    lines = [f"{txn.day.isoformat()} * {escape_string(txn.payee)} {escape_string(txn.narration)}"]
    lines.extend(f"  {key}: {value}" for key, value in txn.meta)
    ordered = sorted(
        txn.postings,
        key=lambda p: (accounts[(p.root, p.code)], p.meta, format_number(p.amount)),
    )
    for posting in ordered:
        lines.append(
            _amount_column(accounts[(posting.root, posting.code)], posting.amount, txn.currency)
        )
        lines.extend(f"    {key}: {value}" for key, value in posting.meta)
    return lines


def sync_ledger(
    path: Path,
    entity_name: str,
    invoices: Sequence[LedgerInvoice],
    *,
    credit_notes: Sequence[LedgerCreditNote] = (),
    wallet_movements: Sequence[LedgerWalletMovement] = (),
    currency_exponents: Mapping[str, int] | None = None,
) -> LedgerSyncResult:
    """Rewrite the ledger at ``path`` from the documents; skip the write when nothing changed.

    The file is replaced atomically (``orchestration.files.write_atomically``),
    and parent directories are created. Pass every finalized document, not only the new month's:
    the file holds exactly the documents given.
    """
    text = render_ledger(
        entity_name,
        invoices,
        credit_notes=credit_notes,
        wallet_movements=wallet_movements,
        currency_exponents=currency_exponents,
    )
    content = text.encode("utf-8")
    counts = {
        "invoices_posted": len(invoices),
        "credit_notes_posted": len(credit_notes),
        "wallet_movements_posted": len(wallet_movements),
        "transactions_written": len(invoices) + len(credit_notes) + len(wallet_movements),
    }
    if path.is_file() and path.read_bytes() == content:
        return LedgerSyncResult(path=path, changed=False, **counts)

    mode = path.stat().st_mode & 0o777 if path.exists() else _DEFAULT_FILE_MODE
    write_atomically(path, content, point="ledger_writing", mode=mode)
    return LedgerSyncResult(path=path, changed=True, **counts)


def check_ledger(path: Path) -> list[str]:
    """Load ``path`` with Beancount and return its errors as ``file:line: message`` strings.

    Beancount balances in the current decimal context; the default 28 significant digits would
    round amounts of 29 integer digits (docs/bad-input.md) into false imbalances."""
    with localcontext() as wide:
        wide.prec = 100
        _, errors, _ = loader.load_file(str(path))
    return [_format_error(error) for error in errors]


def _format_error(error: bc_data.BeancountError) -> str:
    source = error.source or {}
    return f"{source.get('filename', '?')}:{source.get('lineno', '?')}: {error.message}"
