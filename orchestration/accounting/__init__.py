"""Accounting exports: the Beancount ledger built from finalized invoices, credit notes and
wallet movements."""

from orchestration.accounting.accounts import (
    RECEIVABLE_ACCOUNT,
    REVENUE_ACCOUNT_ROOTS,
    TAX_ACCOUNT_ROOT,
    sanitize_account_component,
)
from orchestration.accounting.documents import (
    LedgerCredit,
    LedgerCreditNote,
    LedgerInvoice,
    LedgerRevenue,
    LedgerSyncResult,
    LedgerTax,
    LedgerWalletMovement,
)
from orchestration.accounting.ledger import check_ledger, render_ledger, sync_ledger

__all__ = [
    "RECEIVABLE_ACCOUNT",
    "REVENUE_ACCOUNT_ROOTS",
    "TAX_ACCOUNT_ROOT",
    "LedgerCredit",
    "LedgerCreditNote",
    "LedgerInvoice",
    "LedgerRevenue",
    "LedgerSyncResult",
    "LedgerTax",
    "LedgerWalletMovement",
    "check_ledger",
    "render_ledger",
    "sanitize_account_component",
    "sync_ledger",
]
