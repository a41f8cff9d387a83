"""Render an `Invoice` or a `CreditNote` to a reproducible PDF.

The output is byte-identical for identical input (`invariant=1`: no timestamps or random ids),
and the file is replaced atomically, so a reader never sees a half-written document. Both
documents share one layout: seller header with a meta table, customer block, an items table,
a totals block, the running header after page 1 and the "Page X of Y" footer.
"""

import io
import os
import uuid
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass
from datetime import date
from decimal import Decimal
from functools import partial
from pathlib import Path
from typing import Any

from reportlab.lib.styles import ParagraphStyle
from reportlab.pdfgen.canvas import Canvas
from reportlab.platypus import (
    Flowable,
    KeepTogether,
    Paragraph,
    SimpleDocTemplate,
    Spacer,
    Table,
    TableStyle,
)

from invoice_render.i18n import Labels, labels_for
from invoice_render.layout import (
    FONT_BOLD,
    FONT_REGULAR,
    FOOTER_Y,
    FRAME_PADDING,
    HEADER_FILL,
    INK,
    MARGIN,
    RULE,
    WATERMARK,
    Figure,
    Styles,
    page_size_for,
    para,
    para_lines,
    shared_styles,
    text_width,
)
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
from invoice_render.money import (
    format_country,
    format_day,
    format_money,
    format_quantity,
    format_rate,
    format_unit_amount,
)

__all__ = [
    "render_credit_note_pdf",
    "render_credit_note_pdf_bytes",
    "render_invoice_pdf",
    "render_invoice_pdf_bytes",
]

EN_DASH = "\u2013"
LINE_HEADER_KEYS = ("description", "period", "units", "unit_price", "amount")
_CELL_PADDING = 5
_MIN_DESCRIPTION_SHARE = 0.28
_INVOICE_TYPES = frozenset(
    {"subscription", "pay_in_advance", "progressive_billing", "credit", "one_off"}
)
_CREDIT_NOTE_REASONS = frozenset({"termination", "upgrade", "manual", "restatement"})
# Countries whose postal convention is "City, STATE ZIP" on one line.
_CITY_STATE_ZIP = frozenset({"US", "CA", "AU"})


def render_invoice_pdf(invoice: Invoice, path: Path) -> Path:
    """Render `invoice` to `path` (parent directories created) and return the path.

    Raises:
        ValueError: if an amount is not rounded to the currency exponent, or the currency,
            exponent or locale is invalid. Nothing is written in that case.
    """
    target = Path(path)
    data = render_invoice_pdf_bytes(invoice)
    _write_atomically(target, data)
    return target


def render_invoice_pdf_bytes(invoice: Invoice) -> bytes:
    """Render `invoice` and return the PDF bytes (same input, same bytes)."""
    labels = labels_for(invoice.locale)
    document = _Document(
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
    return _render_bytes(document, partial(_story, invoice))


def render_credit_note_pdf(credit_note: CreditNote, path: Path) -> Path:
    """Render `credit_note` to `path` (parent directories created) and return the path.

    Raises:
        ValueError: if an amount is not rounded to the currency exponent, or the currency,
            exponent or locale is invalid. Nothing is written in that case.
    """
    target = Path(path)
    data = render_credit_note_pdf_bytes(credit_note)
    _write_atomically(target, data)
    return target


def render_credit_note_pdf_bytes(credit_note: CreditNote) -> bytes:
    """Render `credit_note` and return the PDF bytes (same input, same bytes)."""
    labels = labels_for(credit_note.locale)
    document = _Document(
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
    return _render_bytes(document, partial(_credit_note_story, credit_note))


@dataclass(frozen=True, slots=True)
class _Document:
    """What the shared layout needs from any document: kind, number, parties and formats."""

    kind: str  # "Invoice", "Rechnung": the title, and the label in footers and metadata
    number: str
    seller: Party
    customer: Party
    currency: str
    exponent: int
    locale: str
    is_draft: bool
    draft_note: str  # printed after "DRAFT" and a dash under the title of a draft
    labels: Labels  # every word printed, in the document's language


def _render_bytes(
    document: _Document,
    story: Callable[[_Document, Styles, float, "_Formats"], list[Flowable]],
) -> bytes:
    """Lay out `story` on the shared page template and return the PDF bytes."""
    styles = shared_styles()
    buffer = io.BytesIO()
    doc = SimpleDocTemplate(
        buffer,
        pagesize=page_size_for(document.locale),
        # SimpleDocTemplate's frame pads its content by 6 pt on every side; subtract that so
        # the content, the running header and the footer all share the same MARGIN edges.
        leftMargin=MARGIN - FRAME_PADDING,
        rightMargin=MARGIN - FRAME_PADDING,
        topMargin=MARGIN - FRAME_PADDING,
        bottomMargin=MARGIN + 6 - FRAME_PADDING,
        title=f"{document.kind} {document.number}",
        author=document.seller.name,
        subject=f"{document.kind} {document.number} · {document.customer.name}",
        creator="Meterhouse invoice_render",
        invariant=1,
    )
    flowables = story(document, styles, doc.width - 2 * FRAME_PADDING, _Formats(document))
    decorate = partial(_decorate_page, document=document, styles=styles)
    doc.build(
        flowables,
        onFirstPage=decorate,
        onLaterPages=decorate,
        canvasmaker=partial(
            _NumberedCanvas,
            footer=partial(_draw_footer, document=document, styles=styles, page_size=doc.pagesize),
        ),
    )
    return buffer.getvalue()


class _Formats:
    """Formatting bound to one document's currency, exponent and locale."""

    def __init__(self, document: _Document) -> None:
        self._currency = document.currency
        self._exponent = document.exponent
        self.locale = document.locale
        self.labels = document.labels

    def money(self, amount: Decimal) -> str:
        return format_money(amount, self._currency, self._exponent, self.locale)

    def deduction(self, amount: Decimal) -> str:
        # Printed negative whatever sign upstream used; copy_negate is exact, not arithmetic.
        return self.money(amount.copy_abs().copy_negate())

    def unit_price(self, amount: Decimal) -> str:
        return format_unit_amount(amount, self._currency, self._exponent, self.locale)

    def quantity(self, value: Decimal) -> str:
        return format_quantity(value, self.locale)

    def day(self, value: date) -> str:
        return format_day(value, self.locale)


def _story(
    invoice: Invoice, document: _Document, styles: Styles, width: float, formats: _Formats
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
            _coded_label(labels, "type_", invoice.invoice_type, _INVOICE_TYPES),
        ),
    ]
    due_note = (
        labels("due_note", date=formats.day(invoice.payment_due_date))
        if invoice.payment_due_date is not None
        else None
    )
    story: list[Flowable] = [
        _header(document, meta_rows, styles, width, formats),
        Spacer(1, 22),
        _bill_to(
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
        _lines_table(invoice.lines, styles, width, formats),
        Spacer(1, 10),
        KeepTogether([_totals(invoice, styles, width, formats)]),
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
    return story + _closing_footer(invoice.footer, styles)


def _closing_footer(footer: str | None, styles: Styles) -> list[Flowable]:
    """The seller's footer text (legal mentions, thanks), at the end of the document."""
    if not footer or not footer.strip():
        return []
    return [Spacer(1, 14), para_lines(footer.splitlines(), styles.cell_muted)]


def _payment_terms(days: int, labels: Labels) -> str:
    return labels["due_on_receipt"] if days == 0 else labels("net_days", days=days)


def _coded_label(labels: Labels, prefix: str, code: str, known: frozenset[str]) -> str:
    """The label of a known code (an invoice type, a reason); an unknown code, humanized."""
    return labels[prefix + code] if code in known else _humanize(code)


def _header(
    document: _Document,
    meta_rows: Sequence[tuple[str, str]],
    styles: Styles,
    width: float,
    formats: _Formats,
) -> Table:
    """The seller's block on the left; the title, any DRAFT badge and `meta_rows` on the right."""
    seller = document.seller
    seller_block = [
        para(seller.name, styles.seller_name),
        para_lines(
            [
                seller.legal_name if seller.legal_name != seller.name else None,
                *_address_lines(seller, formats.locale),
                seller.email,
                _tax_id(seller, formats.labels),
            ],
            styles.body,
        ),
    ]
    meta = Table(
        [
            [para(label, styles.meta_label), para(value, styles.meta_value)]
            for label, value in meta_rows
        ],
        colWidths=[width * 0.22, width * 0.28],
        hAlign="RIGHT",
        style=_compact(("LEFTPADDING", (1, 0), (1, -1), 8)),
    )
    title_block: list[Flowable] = [para(document.kind, styles.title)]
    if document.is_draft:
        draft = document.labels["draft"]
        title_block.append(para(f"{draft} {EN_DASH} {document.draft_note}", styles.draft_badge))
    title_block += [Spacer(1, 6), meta]
    return Table(
        [[seller_block, title_block]],
        colWidths=[width * 0.5, width * 0.5],
        style=_compact(),
    )


def _bill_to(
    document: _Document,
    heading: str,
    amount_label: str,
    amount: Decimal,
    styles: Styles,
    width: float,
    formats: _Formats,
    note: str | None = None,
) -> Table:
    """The customer's block on the left; the document's headline amount (and `note`, the due
    date, under it) on the right."""
    customer = document.customer
    customer_block = [
        para(heading, styles.section),
        Spacer(1, 2),
        para(customer.name, styles.party_name),
        para_lines(
            [
                customer.legal_name if customer.legal_name != customer.name else None,
                *_address_lines(customer, formats.locale),
                customer.email,
                _tax_id(customer, formats.labels),
            ],
            styles.body,
        ),
    ]
    due_block: list[Flowable] = [
        para(amount_label, styles.due_label),
        Figure(formats.money(amount), styles.due_value),
    ]
    if note:
        due_block.append(para(note, styles.meta_value))
    table = Table(
        [[customer_block, due_block]],
        colWidths=[width * 0.6, width * 0.4],
        # Customer fields come from landing files: a block taller than a page (a 3,000-character
        # name) raised LayoutError and failed the month's finalization; it splits instead.
        splitInRow=1,
        style=_compact(),
    )
    return table


def _lines_table(
    lines: Sequence[InvoiceLine], styles: Styles, width: float, formats: _Formats
) -> Table:
    """The lines, grouped under each subscription's plan and service period when they have
    one; a tiered line is followed by one muted row per tier (or package step) that priced it."""
    labels = formats.labels
    header: list[Flowable | str] = [
        para(labels[key], styles.table_header if index < 2 else styles.table_header_right)
        for index, key in enumerate(LINE_HEADER_KEYS)
    ]
    grouped = any(line.subscription_id for line in lines)
    body: list[tuple[str, tuple[str, list[str | None], str, str, str]]] = []
    for group in _subscription_groups(lines):
        group_period: list[str | None] = []
        if grouped:
            group_period = _group_period(group, formats)
            title = group[0].plan_name or labels["other_lines"]
            if group[0].subscription_id:
                reference = labels("subscription_ref", id=group[0].subscription_id)
                title = f"{title} · {reference}"
            body.append(("group", (title, group_period, "", "", "")))
        for line in group:
            period = _line_period(line, formats.locale)
            show_price = line.unit_price_is_exact and not line.tiers
            description = (
                labels["subscription_fee"]
                if grouped and line.line_type == "subscription"
                # A spend cap line (docs/rules.md §12b) reads in the document's language.
                else labels["spend_cap"]
                if line.line_type == "spend_cap"
                else line.description
            )
            body.append(
                (
                    "line",
                    (
                        description,
                        [] if period == group_period else period,
                        formats.quantity(line.units),
                        formats.unit_price(line.unit_amount) if show_price else "",
                        formats.money(line.amount),
                    ),
                )
            )
            body += [("tier", _tier_texts(tier, formats)) for tier in line.tiers]
    rows: list[list[Flowable | str]] = [header]
    commands = _grid_commands(ruled=False)
    for index, (kind, (description, period, units, unit_price, amount)) in enumerate(body, 1):
        if kind == "group":
            rows.append([para(description, styles.group_title), "", "", "", ""])
            commands += [
                ("SPAN", (0, index), (-1, index)),
                ("TOPPADDING", (0, index), (-1, index), 8),
            ]
            if period:
                rows[-1][0] = para_lines(
                    [description, " ".join(p for p in period if p)], styles.group_title
                )
            continue
        text_style, figure_style = (
            (styles.tier_text, styles.tier_figure)
            if kind == "tier"
            else (styles.cell, styles.cell_right)
        )
        # Blank cells stay plain strings: a Paragraph or Figure costs layout time for nothing.
        rows.append(
            [
                para(description, text_style),
                para_lines(period, styles.cell_muted) if any(period) else "",
                Figure(units, figure_style) if units else "",
                Figure(unit_price, figure_style) if unit_price else "",
                Figure(amount, figure_style) if amount else "",
            ]
        )
        if kind == "tier":
            commands += [
                ("TOPPADDING", (0, index), (-1, index), 0),
                ("BOTTOMPADDING", (0, index), (-1, index), 2),
            ]
        # A rule under each line with its tiers, and under each group's title.
        next_kind = body[index][0] if index < len(body) else None
        if next_kind != "tier":
            commands.append(("LINEBELOW", (0, index), (-1, index), 0.25, RULE))
    if not lines:
        rows.append([para(labels["no_lines"], styles.cell_muted), "", "", "", ""])
        commands.append(("SPAN", (0, 1), (-1, 1)))
    texts = [row for kind, row in body if kind != "group"]
    return Table(
        rows,
        colWidths=_line_column_widths(texts, styles, width, labels),
        repeatRows=1,
        # A description taller than a page must split inside its row instead of failing.
        splitInRow=1,
        style=TableStyle(commands),
    )


def _subscription_groups(lines: Sequence[InvoiceLine]) -> list[list[InvoiceLine]]:
    """The lines of each subscription together, in the order the subscriptions first appear."""
    groups: dict[str | None, list[InvoiceLine]] = {}
    for line in lines:
        groups.setdefault(line.subscription_id, []).append(line)
    return list(groups.values())


def _group_period(group: Sequence[InvoiceLine], formats: _Formats) -> list[str | None]:
    """The service period of a subscription's lines: its earliest start to its latest end."""
    starts = [line.from_date for line in group if line.from_date]
    ends = [line.to_date for line in group if line.to_date]
    if not starts or not ends:
        return []
    return [f"{formats.day(min(starts))} {EN_DASH}", formats.day(max(ends))]


def _tier_texts(tier: LineTier, formats: _Formats) -> tuple[str, list[str | None], str, str, str]:
    """How one tier or package step reads: what it covers, its units, price and amount."""
    labels = formats.labels
    start = formats.quantity(tier.from_value)
    end = formats.quantity(tier.to_value) if tier.to_value is not None else None
    units = formats.quantity(tier.units)
    if tier.kind == "free_units":
        return (labels("package_free", count=end or units), [], units, "", "")
    if tier.kind == "packages":
        packages = formats.quantity(tier.packages) if tier.packages is not None else ""
        size = formats.quantity(tier.package_size) if tier.package_size is not None else ""
        return (
            labels("packages", packages=packages, size=size),
            [],
            units,
            formats.unit_price(tier.unit_amount),
            formats.unit_price(tier.amount),
        )
    if tier.charge_model == "volume":
        description = (
            labels("tier_volume", start=start, end=end)
            if end
            else labels("tier_volume_above", start=start)
        )
    elif tier.is_free and end and tier.from_value.is_zero():
        description = labels("tier_free_first", count=end)
    elif tier.is_free and end:
        description = labels("tier_free_range", start=start, end=end)
    elif end:
        description = labels("tier_range", start=start, end=end)
    else:
        description = labels("tier_above", start=start)
    if not tier.flat_amount.is_zero():
        description += f" + {labels['flat_fee']} {formats.unit_price(tier.flat_amount)}"
    if tier.is_free:
        return (description, [], units, "", "")
    return (
        description,
        [],
        units,
        formats.unit_price(tier.unit_amount),
        formats.unit_price(tier.amount),
    )


def _line_column_widths(
    texts: Sequence[tuple[str, list[str | None], str, str, str]],
    styles: Styles,
    width: float,
    labels: Labels,
) -> list[float]:
    """Size the period and figure columns to their widest text; the description gets the rest."""

    def widest(values: Iterable[str | None], style: ParagraphStyle, header: str) -> float:
        return max(
            [_figure_width(value, style) for value in values if value]
            + [_figure_width(header, styles.table_header)]
        )

    fixed = [
        max(
            width * 0.15,
            widest((p for row in texts for p in row[1]), styles.cell_muted, labels["period"]),
        ),
        max(width * 0.09, widest((row[2] for row in texts), styles.cell_right, labels["units"])),
        max(
            width * 0.13, widest((row[3] for row in texts), styles.cell_right, labels["unit_price"])
        ),
        max(width * 0.14, widest((row[4] for row in texts), styles.cell_right, labels["amount"])),
    ]
    description = width - sum(fixed)
    minimum_description = width * _MIN_DESCRIPTION_SHARE
    if description < minimum_description:
        # Absurdly long figures: the description keeps its minimum and figures shrink to fit.
        squeeze = (width - minimum_description) / sum(fixed)
        fixed = [column * squeeze for column in fixed]
        description = minimum_description
    return [description, *fixed]


def _totals(invoice: Invoice, styles: Styles, width: float, formats: _Formats) -> Table:
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
    return _totals_table(
        rows,
        (labels["total_due"], formats.money(invoice.total_amount)),
        (subtotal_excl_row, subtotal_incl_row),
        styles,
        width,
    )


_CREDIT_LABELS = {"coupon": "coupon", "credit_note": "credit_note_ref", "prepaid_credit": "wallet"}


def _credit_rows(
    invoice: Invoice, kind: str, total: Decimal, total_label: str, formats: _Formats
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


def _totals_table(
    rows: Sequence[tuple[str, str]],
    grand: tuple[str, str],
    rules: Sequence[int],
    styles: Styles,
    width: float,
    after: Sequence[tuple[str, str]] = (),
) -> Table:
    """Label/value rows, a thin rule above each row of `rules`, the bold `grand` total, then
    the `after` rows (how that total is settled) below a thin rule."""
    total_row = len(rows)
    cells: list[list[Flowable | str]] = [
        [para(label, styles.total_label), Figure(value, styles.total_value)]
        for label, value in rows
    ]
    grand_label, total = grand
    cells.append([para(grand_label, styles.grand_label), Figure(total, styles.grand_value)])
    cells += [
        [para(label, styles.total_label), Figure(value, styles.total_value)]
        for label, value in after
    ]
    # The value column fits the widest figure (usually the bold grand total); labels wrap.
    value_width = min(
        width * 0.45,
        max(
            width * 0.2,
            *(_figure_width(value, styles.total_value) for _, value in (*rows, *after)),
            _figure_width(total, styles.grand_value),
        ),
    )
    commands: list[tuple[Any, ...]] = [
        ("FONTNAME", (0, 0), (-1, -1), FONT_REGULAR),
        ("VALIGN", (0, 0), (-1, -1), "TOP"),
        ("LEFTPADDING", (0, 0), (-1, -1), _CELL_PADDING),
        ("RIGHTPADDING", (0, 0), (-1, -1), _CELL_PADDING),
        ("TOPPADDING", (0, 0), (-1, -1), 2),
        ("BOTTOMPADDING", (0, 0), (-1, -1), 3),
        *(("LINEABOVE", (0, row), (-1, row), 0.25, RULE) for row in rules),
        ("LINEABOVE", (0, total_row), (-1, total_row), 1, INK),
        ("TOPPADDING", (0, total_row), (-1, total_row), 5),
    ]
    if after:
        first_after = total_row + 1
        commands += [
            ("LINEABOVE", (0, first_after), (-1, first_after), 0.25, RULE),
            ("TOPPADDING", (0, first_after), (-1, first_after), 5),
        ]
    return Table(
        cells,
        colWidths=[max(width * 0.3, width * 0.6 - value_width), value_width],
        hAlign="RIGHT",
        style=TableStyle(commands),
    )


def _credit_note_story(
    credit_note: CreditNote,
    document: _Document,
    styles: Styles,
    width: float,
    formats: _Formats,
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
            _coded_label(labels, "reason_", credit_note.reason, _CREDIT_NOTE_REASONS),
        ),
    ]
    story: list[Flowable] = [
        _header(document, meta_rows, styles, width, formats),
        Spacer(1, 22),
        _bill_to(
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
        *_closing_footer(credit_note.footer, styles),
    ]


def _items_table(
    items: Sequence[CreditNoteItem], styles: Styles, width: float, formats: _Formats
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
    commands = _grid_commands()
    if not items:
        rows.append([para(labels["no_items"], styles.cell_muted), ""])
        commands.append(("SPAN", (0, 1), (-1, 1)))
    amount_width = min(
        width * (1 - _MIN_DESCRIPTION_SHARE),
        max(
            width * 0.18,
            _figure_width(labels["amount"], styles.table_header),
            *(_figure_width(amount, styles.cell_right) for amount in amounts),
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
    credit_note: CreditNote, styles: Styles, width: float, formats: _Formats
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
    return _totals_table(
        rows,
        (labels["total"], formats.money(credit_note.total_amount)),
        (subtotal_row,),
        styles,
        width,
        after=settled,
    )


def _credit_note_tax_label(tax: TaxLine, formats: _Formats) -> str:
    rate = f"({format_rate(tax.rate, formats.locale)})"
    return formats.labels(
        "tax_on", name=tax.name, rate=rate, base=formats.money(tax.taxable_base_amount)
    )


def _figure_width(text: str, style: ParagraphStyle) -> float:
    """Cell width that fits `text` on one line with the standard cell padding."""
    return text_width(text, style.fontName, style.fontSize) + 2 * _CELL_PADDING + 1


def _tax_label(tax: TaxLine, formats: _Formats) -> str:
    rate = format_rate(tax.rate, formats.locale)
    return formats.labels(
        "tax_on", name=tax.name, rate=rate, base=formats.money(tax.taxable_base_amount)
    )


def _line_period(line: InvoiceLine, locale: str) -> list[str | None]:
    start = format_day(line.from_date, locale) if line.from_date else None
    end = format_day(line.to_date, locale) if line.to_date else None
    if start and end:
        return [f"{start} {EN_DASH}", end]
    return [start or end]


def _address_lines(party: Party, locale: str) -> list[str | None]:
    country = party.country.strip().upper() if party.country else None
    city_line: list[str | None]
    if country in _CITY_STATE_ZIP:
        region = " ".join(part for part in (party.state, party.zipcode) if part)
        city_line = [", ".join(part for part in (party.city, region) if part)]
    elif country == "GB":
        city_line = [party.city, party.state, party.zipcode]
    else:
        city_line = [" ".join(part for part in (party.zipcode, party.city) if part), party.state]
    return [
        party.address_line1,
        party.address_line2,
        *city_line,
        format_country(country, locale) if country else None,
    ]


def _tax_id(party: Party, labels: Labels) -> str | None:
    if not party.tax_identification_number:
        return None
    return labels("tax_id", id=party.tax_identification_number)


def _humanize(code: str) -> str:
    return code.replace("_", " ").strip().capitalize()


def _grid_commands(ruled: bool = True) -> list[tuple[Any, ...]]:
    """The style of an items table: shaded header row, ruled rows (unless the caller rules
    them itself), padded top-aligned cells."""
    return [
        # Plain-string cells (blank ones too) are set in this font: never reportlab's Helvetica.
        ("FONTNAME", (0, 0), (-1, -1), FONT_REGULAR),
        ("BACKGROUND", (0, 0), (-1, 0), HEADER_FILL),
        ("LINEBELOW", (0, 0), (-1, 0), 0.75, INK),
        *([("LINEBELOW", (0, 1), (-1, -1), 0.25, RULE)] if ruled else []),
        ("VALIGN", (0, 0), (-1, -1), "TOP"),
        ("LEFTPADDING", (0, 0), (-1, -1), _CELL_PADDING),
        ("RIGHTPADDING", (0, 0), (-1, -1), _CELL_PADDING),
        ("TOPPADDING", (0, 0), (-1, -1), 4),
        ("BOTTOMPADDING", (0, 0), (-1, -1), 5),
    ]


def _compact(*extra: tuple[Any, ...]) -> TableStyle:
    """A borderless layout grid: no padding on the outside, top-aligned cells."""
    return TableStyle(
        [
            ("FONTNAME", (0, 0), (-1, -1), FONT_REGULAR),
            ("VALIGN", (0, 0), (-1, -1), "TOP"),
            ("LEFTPADDING", (0, 0), (-1, -1), 0),
            ("RIGHTPADDING", (0, 0), (-1, -1), 0),
            ("TOPPADDING", (0, 0), (-1, -1), 1),
            ("BOTTOMPADDING", (0, 0), (-1, -1), 1),
            *extra,
        ]
    )


def _decorate_page(
    canvas: Canvas, doc: SimpleDocTemplate, *, document: _Document, styles: Styles
) -> None:
    """Draw the DRAFT watermark and, after page 1, a running header; content prints over both."""
    width, height = doc.pagesize
    if document.is_draft:
        canvas.saveState()
        canvas.setFillColor(WATERMARK)
        canvas.setFont(FONT_BOLD, 120)
        canvas.translate(width / 2, height / 2)
        canvas.rotate(40)
        canvas.drawCentredString(0, -40, "DRAFT")
        canvas.restoreState()
    if doc.page > 1:
        # Continuation pages carry who and which document at the top as well as in the footer.
        frame_width = width - 2 * MARGIN
        continued = document.labels("continued", kind=document.kind, number=document.number)
        _draw_line_of_text(
            canvas,
            [
                (para(document.seller.name, styles.footer), 0.5),
                (para(continued, styles.footer_right), 0.5),
            ],
            x=MARGIN,
            top=height - MARGIN + 16,
            width=frame_width,
        )


def _draw_line_of_text(
    canvas: Canvas,
    cells: Sequence[tuple[Paragraph, float]],
    *,
    x: float,
    top: float,
    width: float,
) -> None:
    """Draw paragraphs side by side below `top`, each taking its share of `width`."""
    for paragraph, share in cells:
        _, used_height = paragraph.wrapOn(canvas, width * share, top)
        paragraph.drawOn(canvas, x, top - used_height)
        x += width * share


def _draw_footer(
    canvas: Canvas,
    page: int,
    page_count: int,
    *,
    document: _Document,
    styles: Styles,
    page_size: tuple[float, float],
) -> None:
    """Footer with the seller, the document's number and "Page X of Y" on every page."""
    width, _ = page_size
    frame_width = width - 2 * MARGIN
    canvas.saveState()
    canvas.setStrokeColor(RULE)
    canvas.setLineWidth(0.5)
    canvas.line(MARGIN, FOOTER_Y + 11, width - MARGIN, FOOTER_Y + 11)
    canvas.restoreState()
    draft = f" · {document.labels['draft']}" if document.is_draft else ""
    _draw_line_of_text(
        canvas,
        [
            (
                para(
                    f"{document.seller.name} · {document.kind} {document.number}{draft}",
                    styles.footer,
                ),
                0.8,
            ),
            (para(document.labels("page", page=page, count=page_count), styles.footer_right), 0.2),
        ],
        x=MARGIN,
        top=FOOTER_Y + 9,
        width=frame_width,
    )


class _NumberedCanvas(Canvas):
    """A canvas that holds pages back until the end so each footer can say "of Y"."""

    def __init__(
        self,
        *args: Any,
        footer: Callable[[Canvas, int, int], None],
        **kwargs: Any,
    ) -> None:
        # reportlab starts every page in Helvetica, which it never embeds (pdffonts would list
        # it as not embedded); start in the embedded face instead.
        kwargs["initialFontName"] = kwargs.get("initialFontName") or FONT_REGULAR
        super().__init__(*args, **kwargs)
        self._footer = footer
        self._page_states: list[dict[str, Any]] = []

    def showPage(self) -> None:  # overrides reportlab's camelCase method
        self._page_states.append(dict(self.__dict__))
        # reportlab's own showPage ends with _startPage(); we only defer the page output.
        self._startPage()  # type: ignore[attr-defined]

    def save(self) -> None:
        page_count = len(self._page_states)
        for state in self._page_states:
            self.__dict__.update(state)
            self._footer(self, self.getPageNumber(), page_count)
            super().showPage()
        super().save()


def _write_atomically(target: Path, data: bytes) -> None:
    """Write to a temp file beside `target`, fsync, then rename over it.

    For callers of this library's `render_*_pdf(path)`; the orchestration renders bytes and
    publishes them through its own writer (orchestration/files.py), the library not depending
    on it."""
    target.parent.mkdir(parents=True, exist_ok=True)
    # Unique per writer, and short enough to stay under NAME_MAX for long target names.
    temp = target.with_name(f".{target.name[:200]}.{uuid.uuid4().hex[:16]}.tmp")
    # os.open with 0o666 honours the umask, unlike mkstemp's 0o600.
    fd = os.open(temp, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o666)
    try:
        with os.fdopen(fd, "wb") as handle:
            handle.write(data)
            handle.flush()
            os.fsync(handle.fileno())
        os.replace(temp, target)
    except BaseException:
        temp.unlink(missing_ok=True)
        raise
