"""Money, quantity and locale formatting of invoice_render (exact strings, no rounding)."""

from decimal import Decimal

import pytest
from babel import Locale

from invoice_render import format_money, locale_for_country
from invoice_render.money import (
    format_country,
    format_quantity,
    format_rate,
    format_unit_amount,
)

NBSP = "\xa0"
NNBSP = "\u202f"  # CLDR's narrow no-break space, fr_FR's group separator


@pytest.mark.parametrize(
    ("amount", "currency", "exponent", "locale", "expected"),
    [
        ("1234.50", "USD", 2, "en_US", "$1,234.50"),
        ("1234.5", "EUR", 2, "fr_FR", f"1{NNBSP}234,50{NBSP}€"),
        ("1234.50", "EUR", 2, "de_DE", f"1.234,50{NBSP}€"),
        ("1234.50", "EUR", 2, "en_US", "€1,234.50"),
        ("1235", "JPY", 0, "en_US", "¥1,235"),
        ("1235", "JPY", 0, "ja_JP", "￥1,235"),
        ("1234.567", "KWD", 3, "en_US", f"KWD{NBSP}1,234.567"),
        ("1234.5", "KWD", 3, "en_US", f"KWD{NBSP}1,234.500"),
        ("5", "USD", 2, "en_US", "$5.00"),
        ("1.500", "USD", 2, "en_US", "$1.50"),  # trailing zeros beyond the exponent are fine
        ("0", "EUR", 2, "fr_FR", f"0,00{NBSP}€"),
    ],
)
def test_format_money(
    amount: str, currency: str, exponent: int, locale: str, expected: str
) -> None:
    assert format_money(Decimal(amount), currency, exponent, locale) == expected


@pytest.mark.parametrize(
    ("amount", "currency", "exponent", "locale", "expected"),
    [
        ("-1234.56", "USD", 2, "en_US", "-$1,234.56"),
        ("-1234.56", "EUR", 2, "fr_FR", f"-1{NNBSP}234,56{NBSP}€"),
        ("-1234.56", "EUR", 2, "de_DE", f"-1.234,56{NBSP}€"),
        ("-500", "JPY", 0, "en_US", "-¥500"),
        ("-0.001", "KWD", 3, "en_US", f"-KWD{NBSP}0.001"),
    ],
)
def test_format_money_negative_amounts_for_credits(
    amount: str, currency: str, exponent: int, locale: str, expected: str
) -> None:
    assert format_money(Decimal(amount), currency, exponent, locale) == expected


def test_negative_zero_prints_as_zero() -> None:
    assert format_money(Decimal("-0.00"), "USD", 2, "en_US") == "$0.00"


@pytest.mark.parametrize(
    ("amount", "currency", "exponent"),
    [
        ("1.005", "USD", 2),
        ("0.001", "EUR", 2),
        ("1234.5", "JPY", 0),
        ("0.0001", "KWD", 3),
        ("-2.345", "USD", 2),
        ("1.000000001", "USD", 2),
    ],
)
def test_format_money_refuses_unrounded_amounts(amount: str, currency: str, exponent: int) -> None:
    with pytest.raises(ValueError, match="not rounded"):
        format_money(Decimal(amount), currency, exponent, "en_US")


def test_format_money_is_exact_beyond_float_and_default_decimal_precision() -> None:
    # 2**53 + 1 is not representable as a float; 38 digits exceed Decimal's default 28.
    assert format_money(Decimal("9007199254740993.00"), "USD", 2, "en_US") == (
        "$9,007,199,254,740,993.00"
    )
    assert (
        format_money(Decimal("123456789012345678901234567890123456.78"), "USD", 2, "en_US")
        == "$123,456,789,012,345,678,901,234,567,890,123,456.78"
    )


def test_format_money_refuses_floats() -> None:
    with pytest.raises(TypeError):
        format_money(1234.5, "USD", 2, "en_US")  # type: ignore[arg-type]


@pytest.mark.parametrize(
    ("amount", "currency", "exponent", "locale"),
    [
        ("NaN", "USD", 2, "en_US"),
        ("Infinity", "USD", 2, "en_US"),
        ("1.00", "usd", 2, "en_US"),
        ("1.00", "US", 2, "en_US"),
        ("1.00", "USD", -1, "en_US"),
        ("1.00", "USD", True, "en_US"),
        ("1.00", "USD", 2, "xx_QQ"),
    ],
)
def test_format_money_rejects_invalid_input(
    amount: str, currency: str, exponent: int, locale: str
) -> None:
    with pytest.raises(ValueError):
        format_money(Decimal(amount), currency, exponent, locale)


@pytest.mark.parametrize(
    ("amount", "currency", "exponent", "locale", "expected"),
    [
        ("0.001000000", "USD", 2, "en_US", "$0.001"),
        ("49.000000000", "USD", 2, "en_US", "$49.00"),
        ("0.500000000", "USD", 2, "en_US", "$0.50"),
        ("0.123456789", "EUR", 2, "fr_FR", f"0,123456789{NBSP}€"),
        ("7500.000000000", "JPY", 0, "en_US", "¥7,500"),
        ("0.150000000", "JPY", 0, "en_US", "¥0.15"),
        ("1.200000000", "KWD", 3, "en_US", f"KWD{NBSP}1.200"),
    ],
)
def test_format_unit_amount_keeps_significant_decimals(
    amount: str, currency: str, exponent: int, locale: str, expected: str
) -> None:
    assert format_unit_amount(Decimal(amount), currency, exponent, locale) == expected


@pytest.mark.parametrize(
    ("quantity", "locale", "expected"),
    [
        ("125430", "en_US", "125,430"),
        ("1234.500000000", "en_US", "1,234.5"),
        ("1234.500000000", "de_DE", "1.234,5"),
        ("1000000.000000000", "fr_FR", f"1{NNBSP}000{NNBSP}000"),
        ("0E-9", "en_US", "0"),
        ("0.000000001", "en_US", "0.000000001"),
    ],
)
def test_format_quantity(quantity: str, locale: str, expected: str) -> None:
    assert format_quantity(Decimal(quantity), locale) == expected


@pytest.mark.parametrize(
    ("rate", "locale", "expected"),
    [
        ("20", "en_US", "20%"),
        ("20.00", "fr_FR", f"20{NBSP}%"),
        ("7.25", "en_US", "7.25%"),
        ("19", "de_DE", f"19{NBSP}%"),
        ("0", "en_US", "0%"),
    ],
)
def test_format_rate(rate: str, locale: str, expected: str) -> None:
    assert format_rate(Decimal(rate), locale) == expected


@pytest.mark.parametrize(
    ("country", "expected"),
    [
        ("US", "en_US"),
        ("GB", "en_GB"),
        ("FR", "fr_FR"),
        ("DE", "de_DE"),
        ("JP", "ja_JP"),
        ("ES", "es_ES"),
        ("IT", "it_IT"),
        ("NL", "nl_NL"),
        ("CA", "en_CA"),
        ("fr", "fr_FR"),
        (" de ", "de_DE"),
        ("ZZ", "en_US"),
        ("", "en_US"),
        (None, "en_US"),
    ],
)
def test_locale_for_country(country: str | None, expected: str) -> None:
    assert locale_for_country(country) == expected


def test_every_mapped_locale_is_a_babel_locale_that_formats_money() -> None:
    from invoice_render.money import _COUNTRY_LOCALES

    for country, locale in _COUNTRY_LOCALES.items():
        assert Locale.parse(locale).territory == country
        assert "1" in format_money(Decimal("1.00"), "EUR", 2, locale)


def test_format_country_uses_the_invoice_locale() -> None:
    assert format_country("FR", "en_US") == "France"
    assert format_country("DE", "fr_FR") == "Allemagne"
    assert format_country("QQ", "en_US") == "QQ"
