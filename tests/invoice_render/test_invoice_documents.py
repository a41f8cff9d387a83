# ruff: noqa: RUF001, RUF003 - the documents print en dashes and multiplication signs
"""Invoices and credit notes finance would send (issue 14): grouping by subscription, tier rows,
named credits, due date and payment details, labels in the document locale, embedded fonts.

Each invoice is read back as a person would read it: text extracted with pypdf, fonts listed with
poppler's `pdffonts`. Every figure is given; none is computed here.
"""

import dataclasses
import shutil
import subprocess
import unicodedata
from datetime import date
from decimal import Decimal
from pathlib import Path

import pytest
from test_credit_note_pdf import make_credit_note
from test_invoice_pdf import SELLER, pdf_pages_text

from invoice_render import (
    DOCUMENT_LANGUAGES,
    AppliedCredit,
    Invoice,
    InvoiceLine,
    LineTier,
    Party,
    TaxLine,
    document_locale,
    render_credit_note_pdf,
    render_invoice_pdf,
    render_invoice_pdf_bytes,
)
from invoice_render.i18n import labels_for

AUGUST = (date(2026, 8, 1), date(2026, 8, 31))
SEPTEMBER = (date(2026, 9, 1), date(2026, 9, 30))
D = Decimal


def graduated_api_calls(units: str, amount: str, precise: str) -> InvoiceLine:
    """API calls on a graduated charge: the first 1,000 free, then 0.003 up to 10,000."""
    return InvoiceLine(
        "API calls",
        "charge",
        D(units),
        # The average the warehouse stores; the PDF must not print it.
        D("0.002847188"),
        D(amount),
        *AUGUST,
        subscription_id="sub_starter",
        plan_name="Starter",
        tiers=(
            LineTier("tier", "graduated", D("0"), D("1000"), D("1000"), D("0"), D("0"), D("0")),
            LineTier(
                "tier",
                "graduated",
                D("1001"),
                D("10000"),
                D(units) - 1000,
                D("0.003"),
                D("0"),
                D(precise),
            ),
        ),
        unit_price_is_exact=False,
    )


def two_subscription_invoice(**overrides: object) -> Invoice:
    """A EUR invoice of two subscriptions, a coupon, a credit note and a wallet."""
    invoice = Invoice(
        invoice_number="LUM-006-002",
        status="finalized",
        invoice_type="subscription",
        issuing_date=date(2026, 9, 1),
        billing_period_start=AUGUST[0],
        billing_period_end=AUGUST[1],
        currency="EUR",
        currency_exponent=2,
        locale="de_DE",
        seller=SELLER,
        customer=Party(name="Kessler & Voigt", city="Leipzig", zipcode="04109", country="DE"),
        lines=(
            InvoiceLine(
                "Starter",
                "subscription",
                D("1"),
                D("45.000000000"),
                D("45.00"),
                *SEPTEMBER,
                subscription_id="sub_starter",
                plan_name="Starter",
            ),
            graduated_api_calls("2881", "5.64", "5.643"),
            InvoiceLine(
                "Tokens",
                "charge",
                D("233717"),
                D("0.000014170"),
                D("3.31"),
                *AUGUST,
                subscription_id="sub_starter",
                plan_name="Starter",
                tiers=(
                    LineTier(
                        "free_units", "package", D("0"), D("50000"), D("50000"), D(0), D(0), D(0)
                    ),
                    LineTier(
                        "packages",
                        "package",
                        D("50000"),
                        None,
                        D("183717"),
                        D("0.018"),
                        D("0"),
                        D("3.312"),
                        package_size=D("1000"),
                        packages=D("184"),
                    ),
                ),
                unit_price_is_exact=False,
            ),
            InvoiceLine(
                "Team",
                "subscription",
                D("1"),
                D("99.000000000"),
                D("99.00"),
                *AUGUST,
                subscription_id="sub_team",
                plan_name="Team",
            ),
            InvoiceLine(
                "Active users",
                "charge",
                D("70"),
                D("4.000000000"),
                D("280.00"),
                *AUGUST,
                subscription_id="sub_team",
                plan_name="Team",
            ),
        ),
        taxes=(TaxLine("USt", D("19"), D("417.95"), D("79.41")),),
        fees_amount=D("432.95"),
        progressive_billing_credit_amount=D("0"),
        coupons_amount=D("15.00"),
        sub_total_excluding_taxes_amount=D("417.95"),
        taxes_amount=D("79.41"),
        sub_total_including_taxes_amount=D("497.36"),
        credit_notes_amount=D("20.00"),
        prepaid_credit_amount=D("50.00"),
        total_amount=D("427.36"),
        credits=(
            AppliedCredit("coupon", "TEAMEUR15", D("15.00")),
            AppliedCredit("credit_note", "LUM-006-001-CN001", D("20.00")),
            AppliedCredit("prepaid_credit", "wallet_0003", D("50.00")),
        ),
        payment_due_date=date(2026, 10, 1),
        net_payment_term=30,
        payment_details="IBAN DE00 1234 5678 9012 3456 78\nBIC EXAMDEFF",
        footer="Lumen Labs Inc. · San Francisco",
    )
    return dataclasses.replace(invoice, **overrides)  # type: ignore[arg-type]


def yen_invoice() -> Invoice:
    """The same shape in JPY, written in Japanese for a Japanese customer."""
    return two_subscription_invoice(
        currency="JPY",
        currency_exponent=0,
        locale="ja_JP",
        customer=Party(name="株式会社テスト", city="京都市", country="JP"),
        lines=(
            InvoiceLine(
                "Starter",
                "subscription",
                D("1"),
                D("7500"),
                D("7500"),
                *SEPTEMBER,
                subscription_id="sub_starter",
                plan_name="スターター",
            ),
            dataclasses.replace(
                graduated_api_calls("2881", "6", "5.643"),
                plan_name="スターター",
                amount=D("6"),
            ),
            InvoiceLine(
                "Team",
                "subscription",
                D("1"),
                D("15000"),
                D("15000"),
                *AUGUST,
                subscription_id="sub_team",
                plan_name="チーム",
            ),
        ),
        taxes=(TaxLine("消費税", D("10"), D("22406"), D("2241")),),
        fees_amount=D("22506"),
        coupons_amount=D("100"),
        sub_total_excluding_taxes_amount=D("22406"),
        taxes_amount=D("2241"),
        sub_total_including_taxes_amount=D("24647"),
        credit_notes_amount=D("0"),
        prepaid_credit_amount=D("0"),
        total_amount=D("24647"),
        credits=(AppliedCredit("coupon", "WELCOME", D("100")),),
    )


def pdffonts(path: Path) -> list[list[str]]:
    """The rows of `pdffonts` (name, type, encoding, emb, sub, uni, ...)."""
    if not shutil.which("pdffonts"):
        pytest.skip("pdffonts (poppler-utils) is not installed; .ci/run installs it")
    output = subprocess.run(
        ["pdffonts", str(path)], check=True, capture_output=True, text=True
    ).stdout
    return [line.split() for line in output.splitlines()[2:] if line.strip()]


def assert_every_font_embedded(path: Path, *expected: str) -> None:
    rows = pdffonts(path)
    names = [row[0] for row in rows]
    assert all(row[-5] == "yes" for row in rows), rows  # the `emb` column
    for face in expected:
        assert any(name.endswith(f"+{face}") for name in names), (face, names)


def drawn(text: str) -> str:
    """`text` as the PDF draws it: full-width forms as their NFKC equivalent (see layout.py)."""
    return "".join(
        unicodedata.normalize("NFKC", c) if 0xFF01 <= ord(c) <= 0xFFEE else c for c in text
    )


def text_of(path: Path) -> str:
    return "\n".join(pdf_pages_text(path))


def test_euro_invoice_in_german_groups_lines_and_explains_tiers(tmp_path: Path) -> None:
    path = render_invoice_pdf(two_subscription_invoice(), tmp_path / "de.pdf")
    text = text_of(path)
    # Labels, dates, numbers and the country in German.
    for expected in ("Rechnung", "Rechnungsnummer", "Zu zahlen", "Einzelpreis", "Deutschland"):
        assert expected in text
    assert "Invoice" not in text and "Total due" not in text
    # Grouped by subscription, under each plan's name with its service period, in order.
    starter = text.index("Starter · Abonnement sub_starter")
    team = text.index("Team · Abonnement sub_team")
    assert starter < text.index("API calls") < text.index("Tokens") < team
    assert team < text.index("Active users")
    assert "01.08.2026 – 30.09.2026" in text  # the Starter group: its fee is paid in advance
    # Tier rows; the free tier explained; no average unit price, no "× 0,00 €".
    assert "Erste 1.000 Einheiten frei" in text
    assert "Einheiten 1.001–10.000" in text
    assert "0,003 €" in text and "5,643 €" in text
    assert "0,002847188" not in text and "0,0028" not in text
    assert "Erste 50.000 Einheiten frei" in text
    assert "184 × Paket zu 1.000 Einheiten" in text
    # Exact unit prices stay.
    assert "4,00 €" in text
    # Named credits, due date, terms, payment details and footer.
    assert "Gutschein TEAMEUR15" in text and "-15,00 €" in text
    assert "Gutschrift LUM-006-001-CN001" in text
    assert "Guthaben (wallet_0003)" in text
    assert "Fällig am 01.10.2026" in text and "30 Tage netto" in text
    assert "IBAN DE00 1234 5678 9012 3456 78" in text and "BIC EXAMDEFF" in text
    assert "Lumen Labs Inc. · San Francisco" in text
    assert_every_font_embedded(path, "DejaVuSans", "DejaVuSans-Bold")


def test_yen_invoice_in_japanese_renders_with_an_embedded_cjk_font(tmp_path: Path) -> None:
    path = render_invoice_pdf(yen_invoice(), tmp_path / "ja.pdf")
    text = text_of(path)
    for expected in ("請求書", "ご請求金額", "お支払期限", "日本", "株式会社テスト", "単価"):
        assert expected in text
    assert text.index("スターター · 契約 sub_starter") < text.index("チーム · 契約 sub_team")
    assert "最初の1,000単位は無料" in text
    assert "1,001–10,000単位" in text
    assert "クーポン WELCOME" in text and "-¥100" in text
    assert "2026/10/01" in text and "30日以内" in text
    assert "0.002847188" not in text
    assert_every_font_embedded(path, "DejaVuSans", "WenQuanYiMicroHei-0")


@pytest.mark.parametrize("language", DOCUMENT_LANGUAGES)
def test_every_language_renders_its_own_labels(tmp_path: Path, language: str) -> None:
    invoice = two_subscription_invoice(locale=document_locale(language, "DE"))
    text = text_of(render_invoice_pdf(invoice, tmp_path / f"{language}.pdf"))
    labels = labels_for(invoice.locale)
    for key in ("invoice", "invoice_number", "due_date", "unit_price", "subtotal_excl"):
        assert drawn(labels[key]) in text, (language, key)


def test_without_names_or_terms_the_totals_read_as_before(tmp_path: Path) -> None:
    invoice = two_subscription_invoice(
        locale="en_US",
        credits=(),
        payment_due_date=None,
        net_payment_term=None,
        payment_details=None,
        footer=None,
    )
    text = text_of(render_invoice_pdf(invoice, tmp_path / "plain.pdf"))
    for expected in ("Coupons", "Credit notes", "Prepaid credits"):
        assert expected in text
    assert "Due date" not in text and "Payment terms" not in text


def test_same_invoice_same_bytes_with_tiers_and_cjk() -> None:
    assert render_invoice_pdf_bytes(yen_invoice()) == render_invoice_pdf_bytes(yen_invoice())


def test_hostile_plan_names_and_payment_details_print_literally(tmp_path: Path) -> None:
    hostile = "<font size=40>BIG</font> & <b>"
    invoice = two_subscription_invoice(
        locale="en_US",
        lines=tuple(
            dataclasses.replace(line, plan_name=hostile)
            for line in two_subscription_invoice().lines
        ),
        payment_details=hostile,
        footer=hostile,
    )
    text = text_of(render_invoice_pdf(invoice, tmp_path / "hostile.pdf"))
    assert text.count(hostile) >= 3


def test_credit_note_in_japanese_and_german_embeds_every_font(tmp_path: Path) -> None:
    japanese = make_credit_note(
        currency="JPY",
        currency_exponent=0,
        locale="ja_JP",
        customer=Party(name="株式会社テスト", country="JP"),
        sub_total_excluding_taxes_amount=D("45"),
        coupons_adjustment_amount=D("4"),
        taxes_amount=D("8"),
        total_amount=D("53"),
        credit_amount=D("40"),
        refund_amount=D("13"),
        items=(),
        taxes=(TaxLine("消費税", D("10"), D("45"), D("8")),),
        footer="ありがとうございました",
    )
    path = render_credit_note_pdf(japanese, tmp_path / "ja.pdf")
    text = text_of(path)
    for expected in ("クレジットノート", "対象の請求書", "契約終了", "株式会社テスト", "合計"):
        assert expected in text
    assert "ありがとうございました" in text
    assert_every_font_embedded(path, "DejaVuSans", "WenQuanYiMicroHei-0")
    german = make_credit_note(currency="EUR", locale="de_DE")
    path = render_credit_note_pdf(german, tmp_path / "de.pdf")
    text = text_of(path)
    for expected in ("Gutschrift", "Ursprungsrechnung", "Abonnement gekündigt"):
        assert expected in text
    assert_every_font_embedded(path, "DejaVuSans", "DejaVuSans-Bold")


def test_document_locale_completes_a_language_with_the_customer_country() -> None:
    assert document_locale("fr", "BE") == "fr_BE"
    assert document_locale("de-AT", "DE") == "de_AT"
    assert document_locale(None, "US") == "en_US"
    assert document_locale("ja", "US") == "ja"  # CLDR has no ja_US: Japanese conventions
    assert document_locale("es", None) == "es"
    with pytest.raises(ValueError, match="unsupported document locale"):
        document_locale("xx", "US")
