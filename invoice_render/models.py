"""Immutable inputs of the invoice renderer.

Every amount arrives already computed and rounded by the warehouse (STYLE §0): the renderer only
formats. Dates are displayed exactly as given, so pass the *inclusive* last day of a period (the
warehouse's exclusive `billing_period_end` minus one day) if that is what the invoice should show.
"""

from dataclasses import dataclass
from datetime import date
from decimal import Decimal


@dataclass(frozen=True, slots=True)
class Party:
    """A seller (billing entity) or a customer, as printed in an address block."""

    name: str
    legal_name: str | None = None
    address_line1: str | None = None
    address_line2: str | None = None
    city: str | None = None
    zipcode: str | None = None
    state: str | None = None
    country: str | None = None  # ISO 3166-1 alpha-2
    email: str | None = None
    tax_identification_number: str | None = None


@dataclass(frozen=True, slots=True)
class InvoiceLine:
    """One row of the lines table.

    `unit_amount` is the precise unit price (up to 9 decimals); `amount` is rounded to the
    currency exponent.
    """

    description: str
    line_type: str  # subscription | charge | spending_minimum | commitment | credit ...
    units: Decimal
    unit_amount: Decimal
    amount: Decimal
    from_date: date | None
    to_date: date | None


@dataclass(frozen=True, slots=True)
class TaxLine:
    """One applied tax; `rate` is a percentage (Decimal("20") means 20 %)."""

    name: str
    rate: Decimal
    taxable_base_amount: Decimal
    tax_amount: Decimal


@dataclass(frozen=True, slots=True)
class Invoice:
    """A complete invoice, ready to render.

    Deductions (progressive billing credit, coupons, credit notes, prepaid credits) are printed
    with a minus sign whatever sign they are given with; every other amount is printed as given.
    """

    invoice_number: str
    status: str  # "finalized" or "draft" (a draft gets a visible DRAFT mark)
    invoice_type: str  # subscription | pay_in_advance | progressive_billing | credit
    issuing_date: date
    billing_period_start: date
    billing_period_end: date
    currency: str  # ISO 4217
    currency_exponent: int  # 2 for USD/EUR, 0 for JPY, 3 for KWD
    locale: str  # e.g. "en_US", "fr_FR", "de_DE", "ja_JP"
    seller: Party
    customer: Party
    lines: tuple[InvoiceLine, ...]
    taxes: tuple[TaxLine, ...]
    fees_amount: Decimal
    progressive_billing_credit_amount: Decimal
    coupons_amount: Decimal
    sub_total_excluding_taxes_amount: Decimal
    taxes_amount: Decimal
    sub_total_including_taxes_amount: Decimal
    credit_notes_amount: Decimal
    prepaid_credit_amount: Decimal
    total_amount: Decimal

    @property
    def is_draft(self) -> bool:
        """Whether the invoice must carry the DRAFT mark."""
        return self.status.strip().lower() == "draft"


@dataclass(frozen=True, slots=True)
class CreditNoteItem:
    """One credited invoice line: its description and the amount credited before coupons."""

    description: str
    amount: Decimal


@dataclass(frozen=True, slots=True)
class CreditNote:
    """A complete credit note, ready to render (rule book §16).

    `sub_total_excluding_taxes_amount` is after the coupons adjustment, which is printed with a
    minus sign whatever sign it is given with; every other amount is printed as given.
    """

    credit_note_number: str
    status: str  # "finalized" or "draft" (a draft gets a visible DRAFT mark)
    reason: str  # termination | upgrade | manual | restatement
    description: str | None  # free text; customer-supplied for manual notes
    issuing_date: date
    invoice_number: str  # the credited invoice
    invoice_issuing_date: date
    currency: str  # ISO 4217
    currency_exponent: int
    locale: str
    seller: Party
    customer: Party
    items: tuple[CreditNoteItem, ...]
    taxes: tuple[TaxLine, ...]
    sub_total_excluding_taxes_amount: Decimal
    coupons_adjustment_amount: Decimal
    taxes_amount: Decimal
    total_amount: Decimal
    credit_amount: Decimal
    refund_amount: Decimal

    @property
    def is_draft(self) -> bool:
        """Whether the credit note must carry the DRAFT mark."""
        return self.status.strip().lower() == "draft"
