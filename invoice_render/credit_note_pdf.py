"""Render a `CreditNote` to a reproducible PDF: header, customer, items, totals."""

from collections.abc import Sequence
from functools import partial
from pathlib import Path

from reportlab.platypus import Flowable, KeepTogether, Spacer, Table, TableStyle

from invoice_render.atomic_file import write_atomically
from invoice_render.document import Document, Formats, closing_footer, coded_label
from invoice_render.i18n import labels_for
from invoice_render.layout import Figure, Styles, para
from invoice_render.models import CreditNote, CreditNoteItem, TaxLine
from invoice_render.money import format_rate
from invoice_render.pages import render_bytes
from invoice_render.parties import bill_to, seller_header
from invoice_render.tables import MIN_DESCRIPTION_SHARE, figure_width, grid_commands, totals_table

_CREDIT_NOTE_REASONS = frozenset({"termination", "upgrade", "manual", "restatement"})


def render_credit_note_pdf(credit_note: CreditNote, path: Path) -> Path:
    """Render `credit_note` to `path` (parent directories created) and return the path.

    Raises:
        ValueError: if an amount is not rounded to the currency exponent, or the currency,
            exponent or locale is invalid. Nothing is written in that case.
    """
    target = Path(path)
    data = render_credit_note_pdf_bytes(credit_note)
    write_atomically(target, data)
    return target


def render_credit_note_pdf_bytes(credit_note: CreditNote) -> bytes:
    """Render `credit_note` and return the PDF bytes (same input, same bytes)."""
    labels = labels_for(credit_note.locale)
    document = Document(
        kind=labels["credit_note"],
        number=credit_note.credit_note_number,
        seller=credit_note.seller,
        customer=credit_note.customer,
        currency=credit_note.currency,
        exponent=credit_note.currency_exponent,
        locale=credit_note.locale,
        is_draft=credit_note.is_draft,
        draft_note=labels["draft_credit_note"],
        labels=labels,
    )
    return render_bytes(document, partial(_credit_note_story, credit_note))


def _credit_note_story(
    credit_note: CreditNote,
    document: Document,
    styles: Styles,
    width: float,
    formats: Formats,
) -> list[Flowable]:
    labels = formats.labels
    meta_rows = [
        (labels["credit_note_number"], credit_note.credit_note_number),
        (labels["issue_date"], formats.day(credit_note.issuing_date)),
        (labels["credited_invoice"], credit_note.invoice_number),
        (labels["invoice_date"], formats.day(credit_note.invoice_issuing_date)),
        (labels["currency"], credit_note.currency),
        (
            labels["reason"],
            coded_label(labels, "reason_", credit_note.reason, _CREDIT_NOTE_REASONS),
        ),
    ]
    story: list[Flowable] = [
        seller_header(document, meta_rows, styles, width, formats),
        Spacer(1, 22),
        bill_to(
            document,
            labels["customer"],
            labels["credit_note_total"],
            credit_note.total_amount,
            styles,
            width,
            formats,
        ),
        Spacer(1, 16),
    ]
    if credit_note.description and credit_note.description.strip():
        story += [
            para(labels["description_heading"], styles.section),
            Spacer(1, 2),
            para(credit_note.description, styles.body),
            Spacer(1, 12),
        ]
    return [
        *story,
        _items_table(credit_note.items, styles, width, formats),
        Spacer(1, 10),
        KeepTogether([_credit_note_totals(credit_note, styles, width, formats)]),
        *closing_footer(credit_note.footer, styles),
    ]


def _items_table(
    items: Sequence[CreditNoteItem], styles: Styles, width: float, formats: Formats
) -> Table:
    """The credited invoice lines: description and amount credited (before coupons)."""
    labels = formats.labels
    amounts = [formats.money(item.amount) for item in items]
    rows: list[list[Flowable | str]] = [
        [
            para(labels["description"], styles.table_header),
            para(labels["amount"], styles.table_header_right),
        ]
    ]
    rows += [
        [para(item.description, styles.cell), Figure(amount, styles.cell_right)]
        for item, amount in zip(items, amounts, strict=True)
    ]
    commands = grid_commands()
    if not items:
        rows.append([para(labels["no_items"], styles.cell_muted), ""])
        commands.append(("SPAN", (0, 1), (-1, 1)))
    amount_width = min(
        width * (1 - MIN_DESCRIPTION_SHARE),
        max(
            width * 0.18,
            figure_width(labels["amount"], styles.table_header),
            *(figure_width(amount, styles.cell_right) for amount in amounts),
        ),
    )
    return Table(
        rows,
        colWidths=[width - amount_width, amount_width],
        repeatRows=1,
        splitInRow=1,
        style=TableStyle(commands),
    )


def _credit_note_totals(
    credit_note: CreditNote, styles: Styles, width: float, formats: Formats
) -> Table:
    labels = formats.labels
    rows: list[tuple[str, str]] = []
    # The items are before coupons; the subtotal is after them, so the adjustment comes first.
    if credit_note.coupons_adjustment_amount:
        rows.append(
            (labels["coupons_adjustment"], formats.deduction(credit_note.coupons_adjustment_amount))
        )
    subtotal_row = len(rows)
    rows.append(
        (labels["subtotal_excl"], formats.money(credit_note.sub_total_excluding_taxes_amount))
    )
    rows += [
        (_credit_note_tax_label(tax, formats), formats.money(tax.tax_amount))
        for tax in credit_note.taxes
    ]
    if not credit_note.taxes:
        rows.append((labels["tax"], formats.money(credit_note.taxes_amount)))
    settled = [(labels["credited_to_balance"], formats.money(credit_note.credit_amount))]
    if credit_note.refund_amount:
        settled.append((labels["refunded"], formats.money(credit_note.refund_amount)))
    return totals_table(
        rows,
        (labels["total"], formats.money(credit_note.total_amount)),
        (subtotal_row,),
        styles,
        width,
        after=settled,
    )


def _credit_note_tax_label(tax: TaxLine, formats: Formats) -> str:
    rate = f"({format_rate(tax.rate, formats.locale)})"
    return formats.labels(
        "tax_on", name=tax.name, rate=rate, base=formats.money(tax.taxable_base_amount)
    )
