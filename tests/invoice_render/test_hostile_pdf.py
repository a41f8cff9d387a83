"""Hostile text in PDFs (issue #6, part 3): huge customer fields and descriptions still render.

Markup is covered in test_invoice_pdf.py and test_credit_note_pdf.py (HOSTILE_NAMES); here, the
size of texts that come from landing files: customer fields, line descriptions (which carry the
pricing-group values of events) and credit note reasons.
"""

import dataclasses
import time

import pytest
from test_credit_note_pdf import make_credit_note
from test_invoice_pdf import CUSTOMER, make_invoice, pdf_pages_text

from invoice_render import render_credit_note_pdf, render_invoice_pdf
from invoice_render.layout import MAX_PARAGRAPH_CHARS

PARTY_FIELDS = [f.name for f in dataclasses.fields(CUSTOMER) if f.name != "country"]


def _long_customer(length: int) -> object:
    return dataclasses.replace(
        CUSTOMER, **{name: (f"{name} " * length)[:length] for name in PARTY_FIELDS}
    )


@pytest.mark.parametrize("length", [3_000, 100_000])
def test_huge_customer_fields_render_instead_of_failing_the_layout(tmp_path, length):
    # Every customer field of 3,000 characters made the bill-to block taller than a page:
    # reportlab raised LayoutError, failing the month's finalization.
    customer = _long_customer(length)
    invoice_pdf = render_invoice_pdf(make_invoice(customer=customer), tmp_path / "i.pdf")
    note_pdf = render_credit_note_pdf(make_credit_note(customer=customer), tmp_path / "c.pdf")
    for pdf in (invoice_pdf, note_pdf):
        text = " ".join(pdf_pages_text(pdf))
        assert "name name name" in text
        assert text.count("…") >= len(PARTY_FIELDS) - 1  # each field is cut


def test_a_huge_description_is_cut_and_renders_quickly(tmp_path):
    # A line description carries the pricing-group value of events: one of 1 MB took reportlab
    # minutes (18 s for 100,000 characters). It is cut to MAX_PARAGRAPH_CHARS.
    description = "gpu: " + "h100 " * 200_000
    invoice = make_invoice()
    invoice = dataclasses.replace(
        invoice,
        lines=tuple(dataclasses.replace(line, description=description) for line in invoice.lines),
    )
    note = make_credit_note(description=description)
    note = dataclasses.replace(
        note, items=tuple(dataclasses.replace(item, description=description) for item in note.items)
    )
    started = time.perf_counter()
    invoice_pdf = render_invoice_pdf(invoice, tmp_path / "i.pdf")
    note_pdf = render_credit_note_pdf(note, tmp_path / "c.pdf")
    assert time.perf_counter() - started < 10
    for pdf in (invoice_pdf, note_pdf):
        text = "".join(pdf_pages_text(pdf)).replace("\n", "")
        assert "gpu: h100 h100" in text
        assert 150 < text.count("h100") < 5_000  # cut: 200,000 in the description


def test_a_text_at_the_limit_is_not_cut(tmp_path):
    name = "A" * (MAX_PARAGRAPH_CHARS - 10) + " end-of-name"
    assert len(name) == MAX_PARAGRAPH_CHARS + 2
    exact = name[:MAX_PARAGRAPH_CHARS]
    pdf = render_invoice_pdf(
        make_invoice(customer=dataclasses.replace(CUSTOMER, name=exact)), tmp_path / "i.pdf"
    )
    text = "".join(pdf_pages_text(pdf)).replace("\n", "")
    assert "end-of-na" in text and "end-of-na…" not in text
    pdf = render_invoice_pdf(
        make_invoice(customer=dataclasses.replace(CUSTOMER, name=name)), tmp_path / "j.pdf"
    )
    assert "end-of-n…" in "".join(pdf_pages_text(pdf)).replace("\n", "")
