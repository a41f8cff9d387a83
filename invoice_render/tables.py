"""Table building blocks shared by invoices and credit notes: widths, rules, the totals block."""

from collections.abc import Sequence
from typing import Any

from reportlab.lib.styles import ParagraphStyle
from reportlab.platypus import Flowable, Table, TableStyle

from invoice_render.layout import (
    FONT_REGULAR,
    HEADER_FILL,
    INK,
    RULE,
    Figure,
    Styles,
    para,
    text_width,
)

_CELL_PADDING = 5
MIN_DESCRIPTION_SHARE = 0.28


def totals_table(
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
            *(figure_width(value, styles.total_value) for _, value in (*rows, *after)),
            figure_width(total, styles.grand_value),
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


def figure_width(text: str, style: ParagraphStyle) -> float:
    """Cell width that fits `text` on one line with the standard cell padding."""
    return text_width(text, style.fontName, style.fontSize) + 2 * _CELL_PADDING + 1


def grid_commands(ruled: bool = True) -> list[tuple[Any, ...]]:
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
