"""Render Meterhouse invoices and credit notes to reproducible PDFs.

A pure package: it imports no Dagster or DuckDB code and does no arithmetic beyond formatting.
Every amount arrives computed and rounded by the warehouse; `format_money` refuses to re-round.
"""

from invoice_render.credit_note_pdf import render_credit_note_pdf, render_credit_note_pdf_bytes
from invoice_render.i18n import DOCUMENT_LANGUAGES, document_locale
from invoice_render.invoice_pdf import render_invoice_pdf, render_invoice_pdf_bytes
from invoice_render.models import (
    AppliedCredit,
    CreditNote,
    CreditNoteItem,
    Invoice,
    InvoiceLine,
    LineTier,
    Party,
    TaxLine,
)
from invoice_render.money import format_money, locale_for_country

__all__ = [
    "DOCUMENT_LANGUAGES",
    "AppliedCredit",
    "CreditNote",
    "CreditNoteItem",
    "Invoice",
    "InvoiceLine",
    "LineTier",
    "Party",
    "TaxLine",
    "document_locale",
    "format_money",
    "locale_for_country",
    "render_credit_note_pdf",
    "render_credit_note_pdf_bytes",
    "render_invoice_pdf",
    "render_invoice_pdf_bytes",
]
