"""Render an `Invoice` to a reproducible PDF: header, customer, lines, totals, payment details."""

from decimal import Decimal
from functools import partial
from pathlib import Path

from reportlab.platypus import Flowable, KeepTogether, Spacer, Table

from invoice_render.atomic_file import write_atomically
from invoice_render.document import EN_DASH, Document, Formats, closing_footer, coded_label
from invoice_render.i18n import Labels, labels_for
from invoice_render.invoice_lines import lines_table
from invoice_render.layout import Styles, para, para_lines
from invoice_render.models import AppliedCredit, Invoice, TaxLine
from invoice_render.money import format_rate
from invoice_render.pages import render_bytes
from invoice_render.parties import bill_to, seller_header
from invoice_render.tables import totals_table

_INVOICE_TYPES = frozenset(
    {"subscription", "pay_in_advance", "progressive_billing", "credit", "one_off"}
)


def render_invoice_pdf(invoice: Invoice, path: Path) -> Path:
    """Render `invoice` to `path` (parent directories created) and return the path.

    Raises:
        ValueError: if an amount is not rounded to the currency exponent, or the currency,
            exponent or locale is invalid. Nothing is written in that case.
    """
    target = Path(path)
    data = render_invoice_pdf_bytes(invoice)
    write_atomically(target, data)
    return target


def render_invoice_pdf_bytes(invoice: Invoice) -> bytes:
    """Render `invoice` and return the PDF bytes (same input, same bytes)."""
    labels = labels_for(invoice.locale)
    document = Document(
        kind=labels["invoice"],
        number=invoice.invoice_number,
        seller=invoice.seller,
        customer=invoice.customer,
        currency=invoice.currency,
        exponent=invoice.currency_exponent,
        locale=invoice.locale,
        is_draft=invoice.is_draft,
        draft_note=labels["draft_invoice"],
        labels=labels,
    )
    return render_bytes(document, partial(invoice_story, invoice))


def invoice_story(
    invoice: Invoice, document: Document, styles: Styles, width: float, formats: Formats
) -> list[Flowable]:
    labels = formats.labels
    period = (
        f"{formats.day(invoice.billing_period_start)} {EN_DASH} "
        f"{formats.day(invoice.billing_period_end)}"
    )
    meta_rows = [
        (labels["invoice_number"], invoice.invoice_number),
        (labels["issue_date"], formats.day(invoice.issuing_date)),
    ]
    if invoice.payment_due_date is not None:
        meta_rows.append((labels["due_date"], formats.day(invoice.payment_due_date)))
    if invoice.net_payment_term is not None:
        meta_rows.append(
            (labels["payment_terms"], _payment_terms(invoice.net_payment_term, labels))
        )
    meta_rows += [
        (labels["billing_period"], period),
        (labels["currency"], invoice.currency),
        (
            labels["invoice_type"],
            coded_label(labels, "type_", invoice.invoice_type, _INVOICE_TYPES),
        ),
    ]
    due_note = (
        labels("due_note", date=formats.day(invoice.payment_due_date))
        if invoice.payment_due_date is not None
        else None
    )
    story: list[Flowable] = [
        seller_header(document, meta_rows, styles, width, formats),
        Spacer(1, 22),
        bill_to(
            document,
            labels["bill_to"],
            labels["total_due"],
            invoice.total_amount,
            styles,
            width,
            formats,
            note=due_note,
        ),
        Spacer(1, 16),
        lines_table(invoice.lines, styles, width, formats),
        Spacer(1, 10),
        KeepTogether([invoice_totals(invoice, styles, width, formats)]),
    ]
    if invoice.payment_details and invoice.payment_details.strip():
        story.append(
            KeepTogether(
                [
                    Spacer(1, 16),
                    para(labels["payment_details"], styles.section),
                    Spacer(1, 2),
                    para_lines(invoice.payment_details.splitlines(), styles.body),
                ]
            )
        )
    return story + closing_footer(invoice.footer, styles)


def _payment_terms(days: int, labels: Labels) -> str:
    return labels["due_on_receipt"] if days == 0 else labels("net_days", days=days)


def invoice_totals(invoice: Invoice, styles: Styles, width: float, formats: Formats) -> Table:
    labels = formats.labels
    rows: list[tuple[str, str]] = []
    # Fees equal the subtotal unless something is deducted before tax; only then is the row
    # needed to show what the deductions start from.
    has_pre_tax_deductions = bool(
        invoice.progressive_billing_credit_amount or invoice.coupons_amount
    )
    if has_pre_tax_deductions:
        rows.append((labels["fees"], formats.money(invoice.fees_amount)))
    if invoice.progressive_billing_credit_amount:
        rows.append(
            (
                labels["progressive_billing_credit"],
                formats.deduction(invoice.progressive_billing_credit_amount),
            )
        )
    rows += _credit_rows(invoice, "coupon", invoice.coupons_amount, "coupons", formats)
    subtotal_excl_row = len(rows)
    rows.append((labels["subtotal_excl"], formats.money(invoice.sub_total_excluding_taxes_amount)))
    rows += [(_tax_label(tax, formats), formats.money(tax.tax_amount)) for tax in invoice.taxes]
    if not invoice.taxes:
        rows.append((labels["tax"], formats.money(invoice.taxes_amount)))
    subtotal_incl_row = len(rows)
    rows.append((labels["subtotal_incl"], formats.money(invoice.sub_total_including_taxes_amount)))
    rows += _credit_rows(
        invoice, "credit_note", invoice.credit_notes_amount, "credit_notes", formats
    )
    rows += _credit_rows(
        invoice, "prepaid_credit", invoice.prepaid_credit_amount, "prepaid_credits", formats
    )
    return totals_table(
        rows,
        (labels["total_due"], formats.money(invoice.total_amount)),
        (subtotal_excl_row, subtotal_incl_row),
        styles,
        width,
    )


_CREDIT_LABELS = {"coupon": "coupon", "credit_note": "credit_note_ref", "prepaid_credit": "wallet"}


def _credit_rows(
    invoice: Invoice, kind: str, total: Decimal, total_label: str, formats: Formats
) -> list[tuple[str, str]]:
    """One row per named coupon, credit note or wallet of `kind`; else one row for `total`."""
    named: list[AppliedCredit] = [
        credit for credit in invoice.credits if credit.kind == kind and not credit.amount.is_zero()
    ]
    if named:
        return [
            (
                formats.labels(_CREDIT_LABELS[kind], name=credit.name),
                formats.deduction(credit.amount),
            )
            for credit in named
        ]
    if total:
        return [(formats.labels[total_label], formats.deduction(total))]
    return []


def _tax_label(tax: TaxLine, formats: Formats) -> str:
    rate = format_rate(tax.rate, formats.locale)
    return formats.labels(
        "tax_on", name=tax.name, rate=rate, base=formats.money(tax.taxable_base_amount)
    )
