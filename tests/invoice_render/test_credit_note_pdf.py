"""PDF rendering of credit notes: same layout, fonts and guarantees as invoices (issue #5)."""

import dataclasses
import os
import re
import subprocess
import sys
from datetime import date
from decimal import Decimal
from pathlib import Path

import pytest
from pypdf import PdfReader
from test_invoice_pdf import (
    CUSTOMER,
    HOSTILE_NAMES,
    REPO_ROOT,
    SELLER,
    _fold_spaces,
    pdf_pages_text,
)

from invoice_render import (
    CreditNote,
    CreditNoteItem,
    TaxLine,
    format_money,
    render_credit_note_pdf,
    render_credit_note_pdf_bytes,
)


def make_credit_note(**overrides: object) -> CreditNote:
    """A realistic finalized USD credit note; every figure is given, none is computed here."""
    credit_note = CreditNote(
        credit_note_number="LUM-202610-0042-CN1",
        status="finalized",
        reason="termination",
        description="Unused days of Starter after the termination on Oct 20, 2026",
        issuing_date=date(2026, 10, 20),
        invoice_number="LUM-202610-0042",
        invoice_issuing_date=date(2026, 10, 1),
        currency="USD",
        currency_exponent=2,
        locale="en_US",
        seller=SELLER,
        customer=CUSTOMER,
        items=(
            CreditNoteItem("Starter (subscription)", Decimal("18.97")),
            CreditNoteItem("Seats", Decimal("30.00")),
        ),
        taxes=(
            TaxLine("VAT", Decimal("20"), Decimal("40.00"), Decimal("8.00")),
            TaxLine("Eco tax", Decimal("0.5"), Decimal("4.97"), Decimal("0.02")),
        ),
        sub_total_excluding_taxes_amount=Decimal("44.97"),
        coupons_adjustment_amount=Decimal("4.00"),
        taxes_amount=Decimal("8.02"),
        total_amount=Decimal("52.99"),
        credit_amount=Decimal("40.00"),
        refund_amount=Decimal("12.99"),
    )
    return dataclasses.replace(credit_note, **overrides)  # type: ignore[arg-type]


def money(credit_note: CreditNote, amount: Decimal) -> str:
    return _fold_spaces(
        format_money(
            amount, credit_note.currency, credit_note.currency_exponent, credit_note.locale
        )
    )


def render_text(credit_note: CreditNote, path: Path) -> str:
    return "\n".join(pdf_pages_text(render_credit_note_pdf(credit_note, path)))


def test_rendering_twice_gives_identical_bytes(tmp_path: Path) -> None:
    credit_note = make_credit_note()
    first = render_credit_note_pdf(credit_note, tmp_path / "a.pdf")
    second = render_credit_note_pdf(credit_note, tmp_path / "b.pdf")
    assert first.read_bytes() == second.read_bytes()
    assert first.read_bytes() == render_credit_note_pdf_bytes(credit_note)
    assert first.read_bytes().startswith(b"%PDF-")


def test_bytes_do_not_depend_on_the_process_or_hash_seed(tmp_path: Path) -> None:
    script = (
        "import sys, pathlib\n"
        f"sys.path[:0] = [{str(REPO_ROOT)!r}, {str(Path(__file__).parent)!r}]\n"
        "from test_credit_note_pdf import make_credit_note\n"
        "from invoice_render import render_credit_note_pdf\n"
        "render_credit_note_pdf(make_credit_note(), pathlib.Path(sys.argv[1]))\n"
    )
    outputs = []
    for seed in ("1", "2"):
        out = tmp_path / f"seed{seed}.pdf"
        env = {**os.environ, "PYTHONHASHSEED": seed}
        subprocess.run([sys.executable, "-c", script, str(out)], check=True, env=env)
        outputs.append(out.read_bytes())
    assert outputs[0] == outputs[1] == render_credit_note_pdf_bytes(make_credit_note())


def test_text_has_number_invoice_reference_reason_and_items(tmp_path: Path) -> None:
    credit_note = make_credit_note()
    text = render_text(credit_note, tmp_path / "cn.pdf")
    assert "Credit note" in text
    assert "LUM-202610-0042-CN1" in text
    assert "Oct 20, 2026" in text  # issuing date
    assert re.search(r"Credited invoice\s*\n?\s*LUM-202610-0042\n", text)
    assert re.search(r"Invoice date\s*\n?\s*Oct 1, 2026", text)
    assert "Subscription terminated" in text
    assert "Unused days of Starter after the termination on Oct 20, 2026" in text
    assert "Acme & Sons <Ltd>" in text
    assert "Lumen Labs Inc." in text
    for item in credit_note.items:
        assert re.search(
            rf"{re.escape(item.description)}\s*\n?\s*{re.escape(money(credit_note, item.amount))}",
            text,
        )
    assert re.search(r"Credit note total\s*\n?\s*\$52\.99", text)


@pytest.mark.parametrize(
    ("reason", "words"),
    [("termination", "Subscription terminated"), ("upgrade", "Plan upgrade"),
     ("manual", "Manual credit"), ("some_new_reason", "Some new reason")],
)  # fmt: skip
def test_reason_is_printed_in_words(tmp_path: Path, reason: str, words: str) -> None:
    assert words in render_text(make_credit_note(reason=reason), tmp_path / "r.pdf")


def test_golden_totals_block(tmp_path: Path) -> None:
    pages = pdf_pages_text(render_credit_note_pdf(make_credit_note(), tmp_path / "t.pdf"))
    flat = [line.strip() for line in pages[-1].splitlines() if line.strip()]
    start = flat.index("Coupons adjustment")
    assert flat[start : start + 18] == [
        "Coupons adjustment", "-$4.00",
        "Subtotal excl. tax", "$44.97",
        "VAT (20%) on $40.00", "$8.00",
        "Eco tax (0.5%) on $4.97", "$0.02",
        "Total", "$52.99",
        "Credited to the customer's balance", "$40.00",
        "Refunded", "$12.99",
        "Lumen Labs · Credit note LUM-202610-0042-CN1", "Page 1 of 1",
    ]  # fmt: skip


def test_zero_coupon_and_refund_rows_are_hidden(tmp_path: Path) -> None:
    credit_note = make_credit_note(
        coupons_adjustment_amount=Decimal("0.00"),
        sub_total_excluding_taxes_amount=Decimal("48.97"),
        taxes=(TaxLine("VAT", Decimal("20"), Decimal("48.97"), Decimal("9.79")),),
        taxes_amount=Decimal("9.79"),
        total_amount=Decimal("58.76"),
        credit_amount=Decimal("58.76"),
        refund_amount=Decimal("0.00"),
    )
    text = render_text(credit_note, tmp_path / "z.pdf")
    assert "Coupons" not in text
    assert "Refunded" not in text
    for shown in (
        "Subtotal excl. tax",
        "VAT (20%) on $48.97",
        "Credited to the customer's balance",
    ):
        assert shown in text
    assert re.search(r"^\s*Total\s*\n?\s*\$58\.76", text, re.MULTILINE)


def test_without_tax_lines_the_tax_total_is_still_shown(tmp_path: Path) -> None:
    credit_note = make_credit_note(taxes=(), taxes_amount=Decimal("0.00"))
    assert re.search(r"Tax\s*\n\s*\$0\.00", render_text(credit_note, tmp_path / "n.pdf"))


@pytest.mark.parametrize("hostile", HOSTILE_NAMES)
def test_customer_supplied_text_renders_literally(tmp_path: Path, hostile: str) -> None:
    credit_note = make_credit_note(
        reason="manual",
        description=f"Goodwill {hostile}",
        credit_note_number=f"CN {hostile}",
        invoice_number=f"INV {hostile}",
        customer=dataclasses.replace(CUSTOMER, name=hostile, legal_name=f"Legal {hostile}"),
        seller=dataclasses.replace(SELLER, name=f"Seller {hostile}"),
        items=(CreditNoteItem(f"Line {hostile}", Decimal("30.00")),),
        taxes=(dataclasses.replace(make_credit_note().taxes[0], name=f"Tax {hostile}"),),
    )
    # Narrow meta cells wrap long values: compare with every run of whitespace folded.
    text = " ".join(render_text(credit_note, tmp_path / "h.pdf").split())
    for expected in (
        f"Goodwill {hostile}", f"CN {hostile}", f"INV {hostile}", hostile, f"Legal {hostile}",
        f"Seller {hostile}", f"Line {hostile}", f"Tax {hostile}",
    ):  # fmt: skip
        assert " ".join(_fold_spaces(expected).split()) in text


def test_empty_description_prints_no_description_block(tmp_path: Path) -> None:
    text = render_text(make_credit_note(description=None), tmp_path / "d.pdf")
    assert "DESCRIPTION" not in text


def test_unrounded_amount_raises_and_writes_nothing(tmp_path: Path) -> None:
    target = tmp_path / "credit_notes" / "2026-10" / "bad.pdf"
    for bad in (
        {"total_amount": Decimal("52.995")},
        {"items": (CreditNoteItem("Seats", Decimal("30.001")),)},
        {"coupons_adjustment_amount": Decimal("4.005")},
    ):
        with pytest.raises(ValueError, match="not rounded"):
            render_credit_note_pdf(make_credit_note(**bad), target)
    assert not target.exists()
    assert not list(tmp_path.rglob("*.pdf*"))


def test_float_amount_is_refused(tmp_path: Path) -> None:
    with pytest.raises(TypeError, match="must be a Decimal"):
        render_credit_note_pdf(make_credit_note(refund_amount=12.99), tmp_path / "f.pdf")


def test_draft_credit_note_carries_a_visible_draft_mark(tmp_path: Path) -> None:
    text = render_text(make_credit_note(status="draft"), tmp_path / "d.pdf")
    assert "DRAFT \u2013 not a valid credit note" in text
    assert "DRAFT" not in render_text(make_credit_note(), tmp_path / "f.pdf")


def test_many_items_span_several_pages_with_repeated_header(tmp_path: Path) -> None:
    items = tuple(CreditNoteItem(f"Metric {i:03d}", Decimal("1.00")) for i in range(120))
    pages = pdf_pages_text(
        render_credit_note_pdf(make_credit_note(items=items), tmp_path / "l.pdf")
    )
    assert len(pages) > 1
    text = "\n".join(pages)
    for i in range(120):
        assert f"Metric {i:03d}" in text
    for number, page in enumerate(pages, start=1):
        assert f"Page {number} of {len(pages)}" in page
        assert "LUM-202610-0042-CN1" in page
        if "Metric" in page:
            assert "Description" in page and "Amount" in page


def test_other_locale_and_page_size(tmp_path: Path) -> None:
    credit_note = make_credit_note(currency="EUR", locale="fr_FR")
    path = render_credit_note_pdf(credit_note, tmp_path / "fr.pdf")
    text = "\n".join(pdf_pages_text(path))
    assert money(credit_note, Decimal("52.99")) in text  # "52,99 €"
    # Issue 14: an fr_FR document is written in French, labels included.
    assert "VAT (20 %) sur 40,00 €" in text
    page = PdfReader(path).pages[0]
    assert (round(float(page.mediabox.width)), round(float(page.mediabox.height))) == (595, 842)


def test_write_is_atomic_and_replaces(tmp_path: Path) -> None:
    target = tmp_path / "credit_notes" / "2026-10" / "cn.pdf"
    assert render_credit_note_pdf(make_credit_note(), target) == target
    target.write_bytes(b"stale")
    render_credit_note_pdf(make_credit_note(), target)
    assert target.read_bytes() == render_credit_note_pdf_bytes(make_credit_note())
    assert [p.name for p in target.parent.iterdir()] == ["cn.pdf"]
