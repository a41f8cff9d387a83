"""Accounting exports: the Beancount receivables ledger built from finalized invoices."""

from orchestration.accounting.ledger import (
    RECEIVABLE_ACCOUNT,
    REVENUE_ACCOUNT_ROOTS,
    TAX_ACCOUNT_ROOT,
    LedgerInvoice,
    LedgerRevenue,
    LedgerSyncResult,
    LedgerTax,
    check_ledger,
    render_ledger,
    sanitize_account_component,
    sync_ledger,
)

__all__ = [
    "RECEIVABLE_ACCOUNT",
    "REVENUE_ACCOUNT_ROOTS",
    "TAX_ACCOUNT_ROOT",
    "LedgerInvoice",
    "LedgerRevenue",
    "LedgerSyncResult",
    "LedgerTax",
    "check_ledger",
    "render_ledger",
    "sanitize_account_component",
    "sync_ledger",
]
