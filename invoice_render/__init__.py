"""Render Meterhouse invoices to reproducible PDFs.

A pure package: it imports no Dagster or DuckDB code and does no arithmetic beyond formatting.
Every amount arrives computed and rounded by the warehouse; `format_money` refuses to re-round.
"""

from invoice_render.models import Invoice, InvoiceLine, Party, TaxLine
from invoice_render.money import format_money, locale_for_country
from invoice_render.render import render_invoice_pdf, render_invoice_pdf_bytes

__all__ = [
    "Invoice",
    "InvoiceLine",
    "Party",
    "TaxLine",
    "format_money",
    "locale_for_country",
    "render_invoice_pdf",
    "render_invoice_pdf_bytes",
]
