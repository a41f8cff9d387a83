"""The document being rendered and the words it prints.

`Document` is what the shared layout needs from an invoice or a credit note; `Formats` formats
amounts, quantities and days in the document's currency and locale; the helpers below print a
code's label and the seller's closing footer.
"""

from dataclasses import dataclass
from datetime import date
from decimal import Decimal

from reportlab.platypus import Flowable, Spacer

from invoice_render.i18n import Labels
from invoice_render.layout import Styles, para_lines
from invoice_render.models import Party
from invoice_render.money import format_day, format_money, format_quantity, format_unit_amount

EN_DASH = "\u2013"


@dataclass(frozen=True, slots=True)
class Document:
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


class Formats:
    """Formatting bound to one document's currency, exponent and locale."""

    def __init__(self, document: Document) -> None:
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


def closing_footer(footer: str | None, styles: Styles) -> list[Flowable]:
    """The seller's footer text (legal mentions, thanks), at the end of the document."""
    if not footer or not footer.strip():
        return []
    return [Spacer(1, 14), para_lines(footer.splitlines(), styles.cell_muted)]


def coded_label(labels: Labels, prefix: str, code: str, known: frozenset[str]) -> str:
    """The label of a known code (an invoice type, a reason); an unknown code, humanized."""
    return labels[prefix + code] if code in known else _humanize(code)


def _humanize(code: str) -> str:
    return code.replace("_", " ").strip().capitalize()
