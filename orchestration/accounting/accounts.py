"""The ledger's chart of accounts, and the account each code gets (sanitized, unique)."""

from __future__ import annotations

import hashlib
import re
import unicodedata
from collections.abc import Iterable, Mapping

from beancount.core import account as bc_account

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
_WORD_RE = re.compile(r"[A-Za-z0-9]+")
_UNKNOWN_COMPONENT = "Unknown"
_HASH_CHARS = 8


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


def _short_hash(code: str) -> str:
    return hashlib.sha256(code.encode("utf-8")).hexdigest()[:_HASH_CHARS]


def resolve_accounts(keys: Iterable[tuple[str, str | None]]) -> dict[tuple[str, str | None], str]:
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
