"""Write finalized invoices to a Beancount receivables ledger.

The ledger is a pure function of the finalized invoices: ``render_ledger`` sorts everything it
writes, so the same invoices always give the same bytes, and ``sync_ledger`` rewrites the whole
file (atomically, and only when its content changes) instead of appending to it. Re-syncing a month
therefore never duplicates an entry.

One transaction per invoice, dated at its issuing date::

    Assets:Receivable:Customers       total_amount   (debit)
    Income:<Kind root>:<Code>        -line amount    (credit, one per kind and code)
    Liabilities:Tax:<TaxCode>        -tax amount     (credit, one per tax code and rate)

Amounts arrive already rounded by SQL. This module never rounds: it checks that every invoice
balances exactly (revenues + taxes == total) and refuses it otherwise. Every arithmetic step runs
in a context that traps ``Inexact``, so a sum that would need rounding raises instead.
"""

from __future__ import annotations

import hashlib
import os
import re
import tempfile
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
)
from pathlib import Path

from beancount import loader
from beancount.core import account as bc_account
from beancount.core import data as bc_data

RECEIVABLE_ACCOUNT = "Assets:Receivable:Customers"
TAX_ACCOUNT_ROOT = "Liabilities:Tax"

# Account root for each revenue kind; the posting's component is the sanitized code.
# Amounts are signed as they affect the invoice total: a positive amount is credited (revenue),
# a negative one is debited. To add a kind, add one entry here, for example
#   "coupon": "Income:Discounts"                    (contra-revenue, negative amounts)
#   "prepaid_credit": "Liabilities:Prepaid-Credits" (wallet credits applied, negative amounts)
# Kinds missing from this mapping are refused, never posted to a guessed account.
REVENUE_ACCOUNT_ROOTS: Mapping[str, str] = {
    "subscription": "Income:Subscriptions",
    "usage": "Income:Usage",
    "commitment": "Income:Commitments",
    "spending_minimum": "Income:Spending-Minimums",
    # Usage an earlier progressive-billing invoice already recognized (negative amounts).
    "progressive_billing_credit": "Income:Progressive-Billing-Credits",
    # Credit notes applied to the invoice, tax included (negative amounts); issue #5 splits
    # them per tax rate and books the notes themselves.
    "credit_note": "Income:Credit-Notes",
}

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
    """One revenue line of an invoice (a plan fee, a usage charge, ...)."""

    revenue_kind: str
    code: str
    amount: Decimal


@dataclass(frozen=True, slots=True)
class LedgerTax:
    """One tax of an invoice; ``rate`` is a percentage."""

    tax_code: str
    rate: Decimal
    amount: Decimal


@dataclass(frozen=True, slots=True)
class LedgerInvoice:
    """A finalized invoice, with amounts already rounded to its currency."""

    invoice_id: str
    invoice_number: str
    issuing_date: date
    external_customer_id: str
    customer_name: str
    currency: str
    total_amount: Decimal
    revenues: tuple[LedgerRevenue, ...]
    taxes: tuple[LedgerTax, ...]


@dataclass(frozen=True, slots=True)
class LedgerSyncResult:
    """Outcome of ``sync_ledger``; ``changed`` is False when the file was already up to date."""

    path: Path
    invoices_posted: int
    transactions_written: int
    changed: bool


@dataclass(frozen=True, slots=True)
class _Posting:
    """A credit posting before account names are resolved."""

    root: str
    code: str
    amount: Decimal
    meta: tuple[tuple[str, str], ...]


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


def _check_amount(invoice_id: str, label: str, amount: object) -> None:
    if not isinstance(amount, Decimal):
        raise TypeError(
            f"invoice {invoice_id}: {label} must be a Decimal, got {type(amount).__name__}"
        )
    if not amount.is_finite():
        raise ValueError(f"invoice {invoice_id}: {label} is not finite ({amount})")


def _check_scale(
    invoice_id: str, label: str, amount: Decimal, currency: str, exponent: int | None
) -> None:
    if exponent is None:
        return
    try:
        _EXACT.quantize(amount, Decimal(1).scaleb(-exponent))
    except Inexact:
        raise ValueError(
            f"invoice {invoice_id}: {label} {amount} is not rounded to {exponent} decimals "
            f"({currency})"
        ) from None


def _validate(invoice: LedgerInvoice, exponents: Mapping[str, int] | None) -> None:
    """Refuse an invoice that cannot be posted as is; never repair it."""
    invoice_id = invoice.invoice_id
    texts = [invoice.invoice_id, invoice.invoice_number, invoice.external_customer_id]
    texts += [invoice.customer_name, invoice.currency]
    texts += [text for revenue in invoice.revenues for text in (revenue.revenue_kind, revenue.code)]
    texts += [tax.tax_code for tax in invoice.taxes]
    if not all(isinstance(text, str) for text in texts):
        raise TypeError(f"invoice {invoice_id!r}: ids, names, codes and currency must be str")
    if not invoice_id or not invoice.invoice_number:
        raise ValueError(f"invoice {invoice_id!r}: invoice_id and invoice_number must be set")
    if isinstance(invoice.issuing_date, datetime) or not isinstance(invoice.issuing_date, date):
        raise TypeError(f"invoice {invoice_id}: issuing_date must be a date")
    if not _CURRENCY_RE.fullmatch(invoice.currency):
        raise ValueError(f"invoice {invoice_id}: currency {invoice.currency!r} is not ISO 4217")
    exponent: int | None = None
    if exponents is not None:
        if invoice.currency not in exponents:
            raise ValueError(f"invoice {invoice_id}: no exponent known for {invoice.currency}")
        exponent = exponents[invoice.currency]

    amounts = [("total_amount", invoice.total_amount)]
    for revenue in invoice.revenues:
        if revenue.revenue_kind not in REVENUE_ACCOUNT_ROOTS:
            raise ValueError(
                f"invoice {invoice_id}: unknown revenue kind {revenue.revenue_kind!r}; "
                f"add it to REVENUE_ACCOUNT_ROOTS"
            )
        amounts.append((f"{revenue.revenue_kind} {revenue.code!r}", revenue.amount))
    for tax in invoice.taxes:
        _check_amount(invoice_id, f"tax {tax.tax_code!r} rate", tax.rate)
        amounts.append((f"tax {tax.tax_code!r}", tax.amount))
    for label, amount in amounts:
        _check_amount(invoice_id, label, amount)
        _check_scale(invoice_id, label, amount, invoice.currency, exponent)

    lines_total = _exact_sum(
        [revenue.amount for revenue in invoice.revenues] + [tax.amount for tax in invoice.taxes]
    )
    if lines_total != invoice.total_amount:
        raise ValueError(
            f"invoice {invoice_id} ({invoice.invoice_number}) does not balance: revenues + taxes "
            f"= {format_number(lines_total)} {invoice.currency}, total_amount = "
            f"{format_number(invoice.total_amount)} {invoice.currency}"
        )


def _credit_postings(invoice: LedgerInvoice) -> list[_Posting]:
    """Aggregate revenues per (kind, code) and taxes per (code, rate); drop zero amounts."""
    revenue_sums: dict[tuple[str, str], Decimal] = {}
    for revenue in invoice.revenues:
        key = (revenue.revenue_kind, revenue.code)
        revenue_sums[key] = _EXACT.add(revenue_sums.get(key, _ZERO), revenue.amount)
    tax_sums: dict[tuple[str, str], Decimal] = {}
    for tax in invoice.taxes:
        tax_key = (tax.tax_code, format_number(tax.rate))
        tax_sums[tax_key] = _EXACT.add(tax_sums.get(tax_key, _ZERO), tax.amount)

    postings = [
        _Posting(
            root=REVENUE_ACCOUNT_ROOTS[kind],
            code=code,
            amount=amount,
            meta=(("kind", escape_string(kind)), ("code", escape_string(code))),
        )
        for (kind, code), amount in revenue_sums.items()
        if amount != 0
    ]
    postings.extend(
        _Posting(
            root=TAX_ACCOUNT_ROOT,
            code=tax_code,
            amount=amount,
            meta=(("tax_code", escape_string(tax_code)), ("tax_rate", rate)),
        )
        for (tax_code, rate), amount in tax_sums.items()
        if amount != 0
    )
    return postings


def _short_hash(code: str) -> str:
    return hashlib.sha256(code.encode("utf-8")).hexdigest()[:_HASH_CHARS]


def _resolve_accounts(codes_by_root: Mapping[str, set[str]]) -> dict[tuple[str, str], str]:
    """Map each (root, code) to an account; codes that sanitize alike get a stable hash suffix."""
    accounts: dict[tuple[str, str], str] = {}
    for root in sorted(codes_by_root):
        by_component: dict[str, list[str]] = {}
        for code in sorted(codes_by_root[root]):
            by_component.setdefault(sanitize_account_component(code), []).append(code)
        seen: dict[str, str] = {}
        for component, codes in sorted(by_component.items()):
            for code in codes:
                leaf = component if len(codes) == 1 else f"{component}-{_short_hash(code)}"
                account = f"{root}:{leaf}"
                if account in seen or not bc_account.is_valid(account):
                    raise ValueError(
                        f"cannot give code {code!r} its own account under {root} "
                        f"(got {account!r}, also used by {seen.get(account)!r})"
                    )
                seen[account] = code
                accounts[(root, code)] = account
    return accounts


def _amount_column(account: str, amount: Decimal, currency: str) -> str:
    return f"  {account:<{_ACCOUNT_WIDTH}}  {format_number(amount)} {currency}"


def render_ledger(
    entity_name: str,
    invoices: Sequence[LedgerInvoice],
    *,
    currency_exponents: Mapping[str, int] | None = None,
) -> str:
    """Render the whole ledger for ``invoices``; the same input always gives the same text.

    Raises ValueError for duplicate invoice ids or numbers, unknown revenue kinds and invoices
    whose revenues and taxes do not add up to their total. When ``currency_exponents`` (ISO 4217
    minor units, e.g. ``{"JPY": 0}``) is given, amounts must also be rounded to their currency.
    """
    ids: set[str] = set()
    numbers: set[str] = set()
    for invoice in invoices:
        _validate(invoice, currency_exponents)
        if invoice.invoice_id in ids:
            raise ValueError(f"duplicate invoice_id {invoice.invoice_id!r}")
        if invoice.invoice_number in numbers:
            raise ValueError(f"duplicate invoice_number {invoice.invoice_number!r}")
        ids.add(invoice.invoice_id)
        numbers.add(invoice.invoice_number)

    ordered = sorted(invoices, key=lambda inv: (inv.issuing_date, inv.invoice_number))
    credits = {invoice.invoice_id: _credit_postings(invoice) for invoice in ordered}
    codes_by_root: dict[str, set[str]] = {}
    for postings in credits.values():
        for posting in postings:
            codes_by_root.setdefault(posting.root, set()).add(posting.code)
    accounts = _resolve_accounts(codes_by_root)

    lines = [
        "; Generated by Meterhouse from finalized invoices; rewritten on every sync, do not edit.",
        'option "title" ' + escape_string(f"{entity_name} receivables ledger"),
    ]
    currencies = sorted({invoice.currency for invoice in ordered})
    lines.extend(f'option "operating_currency" "{currency}"' for currency in currencies)
    if ordered:
        opened = ordered[0].issuing_date.isoformat()
        lines.append("")
        lines.extend(f"{opened} commodity {currency}" for currency in currencies)
        used_accounts = set(accounts.values())
        if any(invoice.total_amount != 0 for invoice in ordered):
            used_accounts.add(RECEIVABLE_ACCOUNT)
        lines.append("")
        lines.extend(f"{opened} open {account}" for account in sorted(used_accounts))

    for invoice in ordered:
        lines.append("")
        lines.extend(_render_transaction(invoice, credits[invoice.invoice_id], accounts))
    return "\n".join(lines) + "\n"


def _render_transaction(
    invoice: LedgerInvoice,
    credits: Sequence[_Posting],
    accounts: Mapping[tuple[str, str], str],
) -> list[str]:
    currency = invoice.currency
    lines = [
        f"{invoice.issuing_date.isoformat()} * {escape_string(invoice.customer_name)} "
        f"{escape_string(f'Invoice {invoice.invoice_number}')}",
        f"  invoice_id: {escape_string(invoice.invoice_id)}",
        f"  invoice_number: {escape_string(invoice.invoice_number)}",
        f"  customer: {escape_string(invoice.external_customer_id)}",
    ]
    if invoice.total_amount != 0:
        lines.append(_amount_column(RECEIVABLE_ACCOUNT, invoice.total_amount, currency))
    for posting in sorted(credits, key=lambda p: (accounts[(p.root, p.code)], p.meta)):
        account = accounts[(posting.root, posting.code)]
        lines.append(_amount_column(account, posting.amount.copy_negate(), currency))
        lines.extend(f"    {key}: {value}" for key, value in posting.meta)
    return lines


def sync_ledger(
    path: Path,
    entity_name: str,
    invoices: Sequence[LedgerInvoice],
    *,
    currency_exponents: Mapping[str, int] | None = None,
) -> LedgerSyncResult:
    """Rewrite the ledger at ``path`` from ``invoices``; skip the write when nothing changed.

    The file is replaced atomically (temporary file in the same directory, then ``os.replace``),
    and parent directories are created. Pass every finalized invoice, not only the new month's:
    the file holds exactly the invoices given.
    """
    text = render_ledger(entity_name, invoices, currency_exponents=currency_exponents)
    content = text.encode("utf-8")
    transactions = len(invoices)
    if path.is_file() and path.read_bytes() == content:
        return LedgerSyncResult(path, len(invoices), transactions, changed=False)

    path.parent.mkdir(parents=True, exist_ok=True)
    mode = path.stat().st_mode & 0o777 if path.exists() else _DEFAULT_FILE_MODE
    fd, tmp_name = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.", suffix=".tmp")
    try:
        with os.fdopen(fd, "wb") as handle:
            handle.write(content)
            handle.flush()
            os.fsync(handle.fileno())
        os.chmod(tmp_name, mode)
        os.replace(tmp_name, path)
    except BaseException:
        Path(tmp_name).unlink(missing_ok=True)
        raise
    return LedgerSyncResult(path, len(invoices), transactions, changed=True)


def check_ledger(path: Path) -> list[str]:
    """Load ``path`` with Beancount and return its errors as ``file:line: message`` strings."""
    _, errors, _ = loader.load_file(str(path))
    return [_format_error(error) for error in errors]


def _format_error(error: bc_data.BeancountError) -> str:
    source = error.source or {}
    return f"{source.get('filename', '?')}:{source.get('lineno', '?')}: {error.message}"
