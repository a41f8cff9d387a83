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

Internally every document is checked, then turned into one ``Transaction`` (header, metadata
and signed postings, debits positive); accounts are resolved over the whole ledger, so a code
always gets the same account whichever document posts to it.

Amounts arrive already rounded by SQL. The ledger never rounds: it refuses a document whose
postings do not balance exactly, amounts that are not Decimals, unknown kinds, and (given
``currency_exponents``) amounts not rounded to their currency. Every arithmetic step runs in a
context that traps ``Inexact``, so a sum that would need rounding raises instead.

One job a module: `documents` (what is posted), `accounts` (the chart of accounts and how codes
become accounts), `validation` (each document checked), `transactions` (each document as one
transaction), `exact` and `beancount_text` (exact sums, Beancount's text), and this module, which
renders, writes and checks the ledger.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from decimal import Decimal, localcontext
from pathlib import Path

from beancount import loader
from beancount.core import data as bc_data

from orchestration.accounting.accounts import resolve_accounts
from orchestration.accounting.beancount_text import escape_string, format_number
from orchestration.accounting.documents import (
    LedgerCreditNote,
    LedgerInvoice,
    LedgerSyncResult,
    LedgerWalletMovement,
)
from orchestration.accounting.transactions import Transaction, build_transactions
from orchestration.files import write_atomically

_DEFAULT_FILE_MODE = 0o644
_ACCOUNT_WIDTH = 44


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
    transactions = build_transactions(invoices, credit_notes, wallet_movements, currency_exponents)
    accounts = resolve_accounts(
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
    txn: Transaction, accounts: Mapping[tuple[str, str | None], str]
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
