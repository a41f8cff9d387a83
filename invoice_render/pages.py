"""Lay a document's story out on pages: the running header, the draft mark, "Page X of Y".

Built with `invariant=1`, so the same story gives the same bytes (no timestamps or random ids).
"""

import io
from collections.abc import Callable, Sequence
from functools import partial
from typing import Any

from reportlab.pdfgen.canvas import Canvas
from reportlab.platypus import Flowable, Paragraph, SimpleDocTemplate

from invoice_render.document import Document, Formats
from invoice_render.layout import (
    FONT_BOLD,
    FONT_REGULAR,
    FOOTER_Y,
    FRAME_PADDING,
    MARGIN,
    RULE,
    WATERMARK,
    Styles,
    page_size_for,
    para,
    shared_styles,
)


def render_bytes(
    document: Document,
    story: Callable[[Document, Styles, float, Formats], list[Flowable]],
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
    flowables = story(document, styles, doc.width - 2 * FRAME_PADDING, Formats(document))
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


def _decorate_page(
    canvas: Canvas, doc: SimpleDocTemplate, *, document: Document, styles: Styles
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
    document: Document,
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
