"""The top of every document: the seller header with its meta table, and the customer block."""

from collections.abc import Sequence
from decimal import Decimal
from typing import Any

from reportlab.platypus import Flowable, Spacer, Table, TableStyle

from invoice_render.document import EN_DASH, Document, Formats
from invoice_render.i18n import Labels
from invoice_render.layout import FONT_REGULAR, Figure, Styles, para, para_lines
from invoice_render.models import Party
from invoice_render.money import format_country

# Countries whose postal convention is "City, STATE ZIP" on one line.
_CITY_STATE_ZIP = frozenset({"US", "CA", "AU"})


def seller_header(
    document: Document,
    meta_rows: Sequence[tuple[str, str]],
    styles: Styles,
    width: float,
    formats: Formats,
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


def bill_to(
    document: Document,
    heading: str,
    amount_label: str,
    amount: Decimal,
    styles: Styles,
    width: float,
    formats: Formats,
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
