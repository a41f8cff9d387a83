"""Locale-aware formatting of amounts, unit prices, quantities, rates and dates (Babel/CLDR).

Nothing here rounds. `format_money` refuses an amount with more decimals than the currency
exponent instead of re-rounding it (docs/contributing.md, "Money"), and every Babel call runs in a
wide decimal context because Babel normalises values in the current context, whose default
precision (28 digits) is narrower than the warehouse's DECIMAL(38, s).
"""

import copy
import re
import unicodedata
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import date
from decimal import Decimal, localcontext
from functools import lru_cache

from babel import Locale, UnknownLocaleError
from babel.dates import format_date
from babel.numbers import (
    NumberPattern,
    format_currency,
    format_decimal,
    format_percent,
    get_currency_symbol,
)

__all__ = [
    "DEFAULT_LOCALE",
    "format_country",
    "format_day",
    "format_money",
    "format_quantity",
    "format_rate",
    "format_unit_amount",
    "locale_for_country",
]

DEFAULT_LOCALE = "en_US"

# One locale per billing country. Where a country has several languages we pick the one most
# invoices there are written in; Arabic-script locales are avoided on purpose because reportlab
# does not shape or reorder right-to-left text, so their currency symbols would print garbled.
_COUNTRY_LOCALES: dict[str, str] = {
    "AE": "en_AE",
    "AR": "es_AR",
    "AT": "de_AT",
    "AU": "en_AU",
    "BE": "fr_BE",
    "BG": "bg_BG",
    "BR": "pt_BR",
    "CA": "en_CA",
    "CH": "de_CH",
    "CL": "es_CL",
    "CN": "zh_CN",
    "CO": "es_CO",
    "CY": "el_CY",
    "CZ": "cs_CZ",
    "DE": "de_DE",
    "DK": "da_DK",
    "EE": "et_EE",
    "ES": "es_ES",
    "FI": "fi_FI",
    "FR": "fr_FR",
    "GB": "en_GB",
    "GR": "el_GR",
    "HK": "en_HK",
    "HR": "hr_HR",
    "HU": "hu_HU",
    "IE": "en_IE",
    "IN": "en_IN",
    "IT": "it_IT",
    "JP": "ja_JP",
    "KR": "ko_KR",
    "LT": "lt_LT",
    "LU": "fr_LU",
    "LV": "lv_LV",
    "MT": "en_MT",
    "MX": "es_MX",
    "NL": "nl_NL",
    "NO": "nb_NO",
    "NZ": "en_NZ",
    "PL": "pl_PL",
    "PT": "pt_PT",
    "RO": "ro_RO",
    "SE": "sv_SE",
    "SG": "en_SG",
    "SI": "sl_SI",
    "SK": "sk_SK",
    "TR": "tr_TR",
    "TW": "zh_TW",
    "UA": "uk_UA",
    "US": "en_US",
    "ZA": "en_ZA",
}

_CURRENCY_CODE = re.compile(r"[A-Z]{3}")
# Wide enough for DECIMAL(38, 9) with room to spare; rounding never happens in it.
_PRECISION = 100


def locale_for_country(country: str | None) -> str:
    """Return the Babel locale for an ISO 3166 alpha-2 country, or "en_US" when unknown."""
    if not country:
        return DEFAULT_LOCALE
    return _COUNTRY_LOCALES.get(country.strip().upper(), DEFAULT_LOCALE)


def format_money(amount: Decimal, currency: str, exponent: int, locale: str) -> str:
    """Format an amount already rounded to `exponent` decimals, e.g. "1 234,50 €" in fr_FR.

    Raises:
        ValueError: if the amount has non-zero digits beyond `exponent` (it is never re-rounded),
            is not finite, or if the currency, exponent or locale is invalid.
        TypeError: if `amount` is not a Decimal (a float has already lost exactness).
    """
    _check_exponent(exponent)
    _check_decimal(amount, "amount")
    if not _has_scale_at_most(amount, exponent):
        raise ValueError(f"amount {amount} is not rounded to {exponent} decimal(s)")
    return _format_currency(amount, currency, exponent, locale, exact=False)


def format_unit_amount(amount: Decimal, currency: str, exponent: int, locale: str) -> str:
    """Format a precise unit price: all significant decimals, but at least `exponent` of them.

    "0.001000000 USD" gives "$0.001" and "49.000000000 USD" gives "$49.00".
    """
    _check_exponent(exponent)
    _check_decimal(amount, "unit amount")
    return _format_currency(amount, currency, exponent, locale, exact=True)


def format_quantity(quantity: Decimal, locale: str) -> str:
    """Format units with grouping and every significant decimal ("1,234.5")."""
    _check_decimal(quantity, "quantity")
    return _format_quantity_text(str(quantity), locale)


@lru_cache(maxsize=8192)
def _format_quantity_text(quantity_text: str, locale: str) -> str:
    """`format_quantity` by the quantity's exact text: quantities recur across documents."""
    with _wide_context():
        return format_decimal(
            _without_trailing_zeros(Decimal(quantity_text)),
            locale=_parse_locale(locale),
            decimal_quantization=False,
        )


def format_rate(rate: Decimal, locale: str) -> str:
    """Format a percentage given in percent units: Decimal("20") gives "20%" in en_US."""
    _check_decimal(rate, "rate")
    with _wide_context():
        # scaleb only moves the exponent (exact); Babel's percent pattern moves it back.
        return format_percent(
            _without_trailing_zeros(rate).scaleb(-2),
            locale=_parse_locale(locale),
            decimal_quantization=False,
        )


@lru_cache(maxsize=4096)
def format_day(day: date, locale: str) -> str:
    """Format a calendar date in the locale's medium style ("Jan 31, 2026", "31 janv. 2026").

    Cached: a document prints the same few days many times, and Babel takes half a millisecond
    for each.
    """
    return format_date(day, format="medium", locale=_parse_locale(locale))


def format_country(country: str, locale: str) -> str:
    """The country's name in the locale ("FR" in en_US gives "France"); unknown codes as given."""
    territories = _parse_locale(locale).territories
    return str(territories.get(country.strip().upper(), country))


def _format_currency(
    amount: Decimal, currency: str, exponent: int, locale: str, *, exact: bool
) -> str:
    if not isinstance(currency, str) or not _CURRENCY_CODE.fullmatch(currency):
        raise ValueError(f"currency must be an upper-case ISO 4217 code, got {currency!r}")
    # Keyed by the amount's exact text (str keeps every digit and the exponent): amounts recur
    # across documents, and Babel takes a tenth of a millisecond for each.
    return _format_currency_text(str(amount), currency, exponent, locale, exact)


@lru_cache(maxsize=8192)
def _format_currency_text(
    amount_text: str, currency: str, exponent: int, locale: str, exact: bool
) -> str:
    amount = Decimal(amount_text)
    # "-0.00" is a formatting artefact of upstream sign handling; print it as plain zero.
    value = amount.copy_abs() if amount.is_zero() else amount
    if exact:
        value = _without_trailing_zeros(value)
    with _wide_context():
        return format_currency(
            value,
            currency,
            format=_currency_pattern(locale, currency, exponent),
            locale=_parse_locale(locale),
            # The exponent comes from our currencies seed, which is authoritative; CLDR's digits
            # differ for a few currencies, so the pattern's precision is used instead.
            currency_digits=False,
            # With quantization off Babel keeps every decimal of the value: exact, never rounded.
            decimal_quantization=not exact,
        )


@lru_cache(maxsize=1024)
def _currency_pattern(locale: str, currency: str, exponent: int) -> NumberPattern:
    """The locale's standard currency pattern with exactly `exponent` fraction digits.

    It also applies CLDR's currency spacing, which Babel skips: a symbol ending (or starting)
    with a letter gets a no-break space next to the digits, so "KWD 1,234.567", not "KWD1,234.567".
    """
    babel_locale = _parse_locale(locale)
    # A copy: Babel's patterns are shared module-level objects.
    pattern: NumberPattern = copy.copy(babel_locale.currency_formats["standard"])
    pattern.frac_prec = (exponent, exponent)
    symbol = get_currency_symbol(currency, babel_locale)
    if symbol and not _is_symbol_or_space(symbol[-1]):
        positive, negative = pattern.prefix
        pattern.prefix = (_space_after_sign(positive), _space_after_sign(negative))
    if symbol and not _is_symbol_or_space(symbol[0]):
        positive, negative = pattern.suffix
        pattern.suffix = (_space_before_sign(positive), _space_before_sign(negative))
    return pattern


def _space_after_sign(prefix: str) -> str:
    return f"{prefix}\xa0" if prefix.endswith("¤") else prefix


def _space_before_sign(suffix: str) -> str:
    return f"\xa0{suffix}" if suffix.startswith("¤") else suffix


def _is_symbol_or_space(char: str) -> bool:
    return unicodedata.category(char)[0] in {"S", "Z"}


@lru_cache(maxsize=256)
def _parse_locale(locale: str) -> Locale:
    try:
        return Locale.parse(locale)
    except (UnknownLocaleError, ValueError, TypeError) as exc:
        raise ValueError(f"unknown locale {locale!r}") from exc


def _check_exponent(exponent: int) -> None:
    # bool is an int subclass; True as an exponent is always a bug upstream.
    if isinstance(exponent, bool) or not isinstance(exponent, int) or not 0 <= exponent <= 9:
        raise ValueError(f"currency exponent must be an int in 0..9, got {exponent!r}")


def _check_decimal(value: Decimal, what: str) -> None:
    if not isinstance(value, Decimal):
        raise TypeError(f"{what} must be a Decimal, got {type(value).__name__}")
    if not value.is_finite():
        raise ValueError(f"{what} must be finite, got {value}")


def _has_scale_at_most(value: Decimal, exponent: int) -> bool:
    """Whether `value` has no non-zero digit beyond `exponent` decimals (context-free check)."""
    _, digits, value_exponent = value.as_tuple()
    assert isinstance(value_exponent, int)  # finite, checked by the caller
    extra = -value_exponent - exponent
    return extra <= 0 or not any(digits[-extra:])


def _without_trailing_zeros(value: Decimal) -> Decimal:
    """Drop trailing fractional zeros without touching the context (Decimal.normalize rounds)."""
    sign, digits, exponent = value.as_tuple()
    assert isinstance(exponent, int)
    kept = list(digits)
    while exponent < 0 and len(kept) > 1 and kept[-1] == 0:
        kept.pop()
        exponent += 1
    if not any(kept):
        return Decimal(0)
    return Decimal((sign, tuple(kept), exponent))


@contextmanager
def _wide_context() -> Iterator[None]:
    with localcontext() as ctx:
        ctx.prec = _PRECISION
        yield
