"""PDF rendering of invoice_render: reproducible bytes, literal text, totals, pagination."""

import dataclasses
import os
import re
import shutil
import subprocess
import sys
import unicodedata
from datetime import date
from decimal import Decimal
from pathlib import Path
from typing import cast

import pytest
from pypdf import PdfReader
from pypdf.generic import DictionaryObject

from invoice_render import (
    Invoice,
    InvoiceLine,
    Party,
    TaxLine,
    format_money,
    render_invoice_pdf,
    render_invoice_pdf_bytes,
)
from invoice_render.layout import FONT_DIR

REPO_ROOT = Path(__file__).resolve().parents[2]
HOSTILE_NAMES = [
    "Acme & Sons <Ltd>",
    "<font size=40>BIG</font>",
    "a <img src='/etc/passwd'/> b",
    "A<B",
    "Tom &amp; Jerry",
    "Evil <b>Bold</b> Corp",
    'Quote "q" <para> & </para>',
]

SELLER = Party(
    name="Lumen Labs",
    legal_name="Lumen Labs Inc.",
    address_line1="500 Howard Street",
    address_line2="Suite 300",
    city="San Francisco",
    zipcode="94105",
    state="CA",
    country="US",
    email="billing@lumenlabs.example",
    tax_identification_number="US-94-1234567",
)
CUSTOMER = Party(
    name="Acme & Sons <Ltd>",
    legal_name="Acme and Sons Limited",
    address_line1="12 rue de la Paix",
    city="Paris",
    zipcode="75002",
    country="FR",
    email="compta@acme.example",
    tax_identification_number="FR12345678901",
)
OCTOBER = (date(2026, 10, 1), date(2026, 10, 31))
EN_DASH = "\u2013"
CYRILLIC_NAME = "Тестовая компания ООО"  # noqa: RUF001 - Cyrillic letters on purpose
ACCENTED_DESCRIPTION = f"API呼び出し {EN_DASH} Größe €"


def make_invoice(**overrides: object) -> Invoice:
    """A realistic finalized USD invoice; every figure is given, none is computed here."""
    invoice = Invoice(
        invoice_number="LUM-202610-0042",
        status="finalized",
        invoice_type="subscription",
        issuing_date=date(2026, 11, 1),
        billing_period_start=OCTOBER[0],
        billing_period_end=OCTOBER[1],
        currency="USD",
        currency_exponent=2,
        locale="en_US",
        seller=SELLER,
        customer=CUSTOMER,
        lines=(
            InvoiceLine(
                "Starter (subscription)",
                "subscription",
                Decimal("1"),
                Decimal("49.000000000"),
                Decimal("49.00"),
                *OCTOBER,
            ),
            InvoiceLine(
                "API calls",
                "charge",
                Decimal("125430"),
                Decimal("0.001000000"),
                Decimal("125.43"),
                *OCTOBER,
            ),
            InvoiceLine(
                "GPU seconds",
                "charge",
                Decimal("86400.5"),
                Decimal("0.000123457"),
                Decimal("10.67"),
                *OCTOBER,
            ),
        ),
        taxes=(TaxLine("VAT", Decimal("20"), Decimal("185.10"), Decimal("37.02")),),
        fees_amount=Decimal("185.10"),
        progressive_billing_credit_amount=Decimal("0.00"),
        coupons_amount=Decimal("0.00"),
        sub_total_excluding_taxes_amount=Decimal("185.10"),
        taxes_amount=Decimal("37.02"),
        sub_total_including_taxes_amount=Decimal("222.12"),
        credit_notes_amount=Decimal("0.00"),
        prepaid_credit_amount=Decimal("0.00"),
        total_amount=Decimal("222.12"),
    )
    return dataclasses.replace(invoice, **overrides)  # type: ignore[arg-type]


def pdf_pages_text(path: Path) -> list[str]:
    """Text of every page with all kinds of spaces folded into one plain space."""
    return [_fold_spaces(page.extract_text()) for page in PdfReader(path).pages]


def _fold_spaces(text: str) -> str:
    # CLDR uses U+00A0 and U+202F inside amounts; extraction and reportlab's wrapping
    # may turn them into plain spaces, which is not what these tests are about.
    return re.sub(
        r"[^\S\n]+", " ", "".join(" " if unicodedata.category(c) == "Zs" else c for c in text)
    )


def money(invoice: Invoice, amount: Decimal) -> str:
    return _fold_spaces(
        format_money(amount, invoice.currency, invoice.currency_exponent, invoice.locale)
    )


def test_rendering_twice_gives_identical_bytes(tmp_path: Path) -> None:
    invoice = make_invoice()
    first = render_invoice_pdf(invoice, tmp_path / "a.pdf")
    second = render_invoice_pdf(invoice, tmp_path / "b.pdf")
    assert first.read_bytes() == second.read_bytes()
    assert first.read_bytes() == render_invoice_pdf_bytes(invoice)
    assert first.read_bytes().startswith(b"%PDF-")


def test_bytes_do_not_depend_on_the_process_or_hash_seed(tmp_path: Path) -> None:
    script = (
        "import sys, pathlib\n"
        f"sys.path[:0] = [{str(REPO_ROOT)!r}, {str(Path(__file__).parent)!r}]\n"
        "from test_invoice_pdf import make_invoice\n"
        "from invoice_render import render_invoice_pdf\n"
        "render_invoice_pdf(make_invoice(), pathlib.Path(sys.argv[1]))\n"
    )
    outputs = []
    for seed in ("1", "2"):
        out = tmp_path / f"seed{seed}.pdf"
        env = {**os.environ, "PYTHONHASHSEED": seed}
        subprocess.run([sys.executable, "-c", script, str(out)], check=True, env=env)
        outputs.append(out.read_bytes())
    assert outputs[0] == outputs[1] == render_invoice_pdf_bytes(make_invoice())


def test_text_has_number_customer_descriptions_and_total(tmp_path: Path) -> None:
    invoice = make_invoice()
    text = "\n".join(pdf_pages_text(render_invoice_pdf(invoice, tmp_path / "i.pdf")))
    assert "LUM-202610-0042" in text
    assert "Acme & Sons <Ltd>" in text
    assert "Lumen Labs Inc." in text
    assert "Tax ID: US-94-1234567" in text
    for line in invoice.lines:
        assert line.description in text
        assert money(invoice, line.amount) in text
    assert "$0.001" in text  # precise unit price, not re-rounded to cents
    assert "86,400.5" in text
    assert "Oct 1, 2026" in text and "Oct 31, 2026" in text
    assert re.search(r"Total due\s*\n?\s*\$222\.12", text)


def test_golden_totals_block(tmp_path: Path) -> None:
    invoice = make_invoice(
        fees_amount=Decimal("300.00"),
        progressive_billing_credit_amount=Decimal("50.00"),
        coupons_amount=Decimal("-10.00"),  # printed negative whatever sign it comes with
        sub_total_excluding_taxes_amount=Decimal("240.00"),
        taxes=(
            TaxLine("VAT", Decimal("20"), Decimal("200.00"), Decimal("40.00")),
            TaxLine("Eco tax", Decimal("0.5"), Decimal("40.00"), Decimal("0.20")),
        ),
        taxes_amount=Decimal("40.20"),
        sub_total_including_taxes_amount=Decimal("280.20"),
        credit_notes_amount=Decimal("20.00"),
        prepaid_credit_amount=Decimal("60.20"),
        total_amount=Decimal("200.00"),
    )
    lines = pdf_pages_text(render_invoice_pdf(invoice, tmp_path / "t.pdf"))[-1].splitlines()
    flat = [line.strip() for line in lines if line.strip()]
    start = flat.index("Fees")
    assert flat[start : start + 22] == [
        "Fees", "$300.00",
        "Progressive billing credit", "-$50.00",
        "Coupons", "-$10.00",
        "Subtotal excl. tax", "$240.00",
        "VAT 20% on $200.00", "$40.00",
        "Eco tax 0.5% on $40.00", "$0.20",
        "Subtotal incl. tax", "$280.20",
        "Credit notes", "-$20.00",
        "Prepaid credits", "-$60.20",
        "Total due", "$200.00",
        "Lumen Labs · Invoice LUM-202610-0042", "Page 1 of 1",
    ]  # fmt: skip


def test_zero_optional_rows_are_hidden_and_mandatory_rows_shown(tmp_path: Path) -> None:
    text = "\n".join(pdf_pages_text(render_invoice_pdf(make_invoice(), tmp_path / "z.pdf")))
    for hidden in ("Fees", "Progressive billing credit", "Coupons", "Credit notes", "Prepaid"):
        assert hidden not in text
    for shown in ("Subtotal excl. tax", "VAT 20% on $185.10", "Subtotal incl. tax", "Total due"):
        assert shown in text


def test_without_tax_lines_the_tax_total_is_still_shown(tmp_path: Path) -> None:
    invoice = make_invoice(taxes=(), taxes_amount=Decimal("0.00"))
    text = "\n".join(pdf_pages_text(render_invoice_pdf(invoice, tmp_path / "n.pdf")))
    assert re.search(r"Tax\s*\n\s*\$0\.00", text)


@pytest.mark.parametrize("hostile", HOSTILE_NAMES)
def test_customer_supplied_text_renders_literally(tmp_path: Path, hostile: str) -> None:
    invoice = make_invoice(
        invoice_number=f"INV {hostile}",
        customer=dataclasses.replace(
            CUSTOMER,
            name=hostile,
            legal_name=f"Legal {hostile}",
            address_line1=f"Street {hostile}",
            city=f"City {hostile}",
            email=f"mail {hostile}",
            tax_identification_number=f"TIN {hostile}",
        ),
        seller=dataclasses.replace(SELLER, name=f"Seller {hostile}"),
        lines=(dataclasses.replace(make_invoice().lines[0], description=f"Line {hostile}"),),
        taxes=(dataclasses.replace(make_invoice().taxes[0], name=f"Tax {hostile}"),),
    )
    text = "\n".join(pdf_pages_text(render_invoice_pdf(invoice, tmp_path / "h.pdf")))
    for expected in (
        hostile, f"INV {hostile}", f"Legal {hostile}", f"Street {hostile}", f"City {hostile}",
        f"mail {hostile}", f"TIN {hostile}", f"Seller {hostile}", f"Line {hostile}",
        f"Tax {hostile}",
    ):  # fmt: skip
        assert _fold_spaces(expected) in text


def test_control_characters_do_not_break_rendering(tmp_path: Path) -> None:
    customer = dataclasses.replace(CUSTOMER, name="Null\x00Byte\x0bCorp\nLine two")
    text = "\n".join(
        pdf_pages_text(render_invoice_pdf(make_invoice(customer=customer), tmp_path / "c.pdf"))
    )
    assert "Null Byte Corp Line two" in text


def test_unicode_names_render_with_the_shipped_fonts(tmp_path: Path) -> None:
    invoice = make_invoice(
        currency="JPY",
        currency_exponent=0,
        locale="ja_JP",
        customer=dataclasses.replace(
            CUSTOMER, name="株式会社テスト", legal_name=CYRILLIC_NAME, country="JP"
        ),
        lines=(
            InvoiceLine(
                ACCENTED_DESCRIPTION,
                "charge",
                Decimal("12000"),
                Decimal("0.150000000"),
                Decimal("1800"),
                *OCTOBER,
            ),
        ),
        taxes=(TaxLine("消費税", Decimal("10"), Decimal("1800"), Decimal("180")),),
        fees_amount=Decimal("1800"),
        sub_total_excluding_taxes_amount=Decimal("1800"),
        taxes_amount=Decimal("180"),
        sub_total_including_taxes_amount=Decimal("1980"),
        total_amount=Decimal("1980"),
    )
    path = render_invoice_pdf(invoice, tmp_path / "jp.pdf")
    text = "\n".join(pdf_pages_text(path))
    for expected in ("株式会社テスト", CYRILLIC_NAME, ACCENTED_DESCRIPTION, "消費税"):
        assert expected in text
    # ja_JP's full-width yen sign is drawn as "¥" from the embedded font (see layout.py).
    assert "¥1,980" in text
    resources = cast(DictionaryObject, PdfReader(path).pages[0]["/Resources"])
    font_dict = cast(DictionaryObject, resources["/Font"].get_object())
    fonts = {str(cast(DictionaryObject, f.get_object())["/BaseFont"]) for f in font_dict.values()}
    assert any(name.endswith("+DejaVuSans") for name in fonts)
    assert any(name.endswith("+DejaVuSans-Bold") for name in fonts)
    # Issue 14: the CJK font is embedded too (it used to be the viewer's HeiseiKakuGo-W5),
    # and no page refers to a font that is not embedded (reportlab's default Helvetica).
    assert any(name.endswith("+WenQuanYiMicroHei-0") for name in fonts)
    assert all("+" in name for name in fonts), fonts


def test_draft_invoice_carries_a_visible_draft_mark(tmp_path: Path) -> None:
    draft = make_invoice(status="draft", invoice_number="LUM-DRAFT")
    draft_text = "\n".join(pdf_pages_text(render_invoice_pdf(draft, tmp_path / "d.pdf")))
    assert "LUM-DRAFT" in draft_text
    assert f"DRAFT {EN_DASH} not a valid tax invoice" in draft_text
    final_text = "\n".join(pdf_pages_text(render_invoice_pdf(make_invoice(), tmp_path / "f.pdf")))
    assert "DRAFT" not in final_text


def test_many_lines_span_several_pages_with_repeated_header(tmp_path: Path) -> None:
    base = make_invoice().lines
    lines = tuple(
        dataclasses.replace(base[i % len(base)], description=f"Metric {i:03d}") for i in range(120)
    )
    path = render_invoice_pdf(make_invoice(lines=lines), tmp_path / "long.pdf")
    pages = pdf_pages_text(path)
    assert len(pages) > 1
    text = "\n".join(pages)
    for i in range(120):
        assert f"Metric {i:03d}" in text
    for number, page in enumerate(pages, start=1):
        assert f"Page {number} of {len(pages)}" in page
        assert "LUM-202610-0042" in page
        if "Metric" in page:  # the last page may hold only the totals block
            for header in ("Description", "Period", "Units", "Unit price", "Amount"):
                assert header in page


def test_invoice_without_lines_still_renders(tmp_path: Path) -> None:
    text = "\n".join(pdf_pages_text(render_invoice_pdf(make_invoice(lines=()), tmp_path / "e.pdf")))
    assert "No line items." in text


def test_page_size_follows_the_locale(tmp_path: Path) -> None:
    letter = PdfReader(render_invoice_pdf(make_invoice(), tmp_path / "us.pdf")).pages[0]
    a4 = PdfReader(render_invoice_pdf(make_invoice(locale="fr_FR"), tmp_path / "fr.pdf")).pages[0]
    assert (round(float(letter.mediabox.width)), round(float(letter.mediabox.height))) == (
        612, 792,
    )  # fmt: skip
    assert (round(float(a4.mediabox.width)), round(float(a4.mediabox.height))) == (595, 842)


def test_unrounded_amount_raises_and_writes_nothing(tmp_path: Path) -> None:
    target = tmp_path / "out" / "bad.pdf"
    with pytest.raises(ValueError, match="not rounded"):
        render_invoice_pdf(make_invoice(total_amount=Decimal("222.125")), target)
    assert not target.exists()
    assert not list(tmp_path.rglob("*.pdf*"))


def test_write_is_atomic_creates_parents_and_replaces(tmp_path: Path) -> None:
    target = tmp_path / "2026-10" / "customers" / "inv.pdf"
    assert render_invoice_pdf(make_invoice(), target) == target
    target.write_bytes(b"stale")
    render_invoice_pdf(make_invoice(), target)
    assert target.read_bytes() == render_invoice_pdf_bytes(make_invoice())
    assert [p.name for p in target.parent.iterdir()] == ["inv.pdf"]  # no temp file left


def test_fonts_ship_with_the_package() -> None:
    for name in ("DejaVuSans.ttf", "DejaVuSans-Bold.ttf", "LICENSE"):
        font = FONT_DIR / name
        assert font.is_file()
        assert font.stat().st_size < 2 * 1024 * 1024


def test_package_is_pure() -> None:
    code = (
        "import sys, invoice_render\n"
        "bad = [m for m in sys.modules if m.split('.')[0] in {'dagster', 'duckdb', 'dbt'}]\n"
        "assert not bad, bad\n"
    )
    env = {**os.environ, "PYTHONPATH": str(REPO_ROOT)}
    subprocess.run([sys.executable, "-c", code], check=True, env=env)


def test_first_page_renders_to_png(tmp_path: Path) -> None:
    pdftoppm = shutil.which("pdftoppm")
    if pdftoppm is None:
        pytest.skip("pdftoppm (Debian poppler-utils) is not installed")
    pdf = render_invoice_pdf(make_invoice(), tmp_path / "p.pdf")
    subprocess.run(
        [pdftoppm, "-png", "-r", "50", "-f", "1", "-l", "1", "-singlefile", str(pdf),
         str(tmp_path / "page1")],
        check=True,
    )  # fmt: skip
    png = tmp_path / "page1.png"
    assert png.read_bytes().startswith(b"\x89PNG")
    assert png.stat().st_size > 5_000
