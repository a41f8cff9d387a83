"""Immutable inputs of the invoice renderer.

Every amount arrives already computed and rounded by the warehouse (docs/contributing.md,
"Python"): the renderer only formats. Dates are displayed exactly as given, so pass the
*inclusive* last day of a period (the warehouse's exclusive `billing_period_end` minus one day)
if that is what the invoice should show.
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
class LineTier:
    """One step of how a graduated, volume or package line was priced (fct_invoice_line_tiers).

    `kind` is "tier" (a graduated or volume tier), "free_units" (a package's free units) or
    "packages" (the paid units in whole packages). `amount` is the step's unrounded amount, as
    the warehouse computed it: `units` x `unit_amount` + `flat_amount`, or `packages` x
    `unit_amount` for packages. Bounds are printed as the catalog states them.
    """

    kind: str
    charge_model: str  # graduated | volume | package
    from_value: Decimal
    to_value: Decimal | None
    units: Decimal
    unit_amount: Decimal
    flat_amount: Decimal
    amount: Decimal
    package_size: Decimal | None = None
    packages: Decimal | None = None

    @property
    def is_free(self) -> bool:
        """A step that costs nothing: printed as "first N units free", not "N x 0"."""
        return self.amount.is_zero() and self.unit_amount.is_zero() and self.flat_amount.is_zero()


@dataclass(frozen=True, slots=True)
class InvoiceLine:
    """One row of the lines table.

    `unit_amount` is the precise unit price (up to 9 decimals); `amount` is rounded to the
    currency exponent. The unit price is printed only when `unit_price_is_exact` (units x unit
    price is the line's amount); a line with `tiers` prints them below it instead. Lines with
    a `subscription_id` are grouped under their subscription's `plan_name`.
    """

    description: str
    line_type: str  # subscription | charge | spending_minimum | commitment | credit ...
    units: Decimal
    unit_amount: Decimal
    amount: Decimal
    from_date: date | None
    to_date: date | None
    subscription_id: str | None = None
    plan_name: str | None = None
    tiers: tuple[LineTier, ...] = ()
    unit_price_is_exact: bool = True


@dataclass(frozen=True, slots=True)
class AppliedCredit:
    """A coupon, credit note or wallet that reduced the invoice, named on the totals.

    `kind` is "coupon", "credit_note" or "prepaid_credit"; `name` is the coupon code, the
    credit note number or the wallet code.
    """

    kind: str
    name: str
    amount: Decimal


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
    # Named deductions; when a kind has none here, its total above is printed under one label.
    credits: tuple[AppliedCredit, ...] = ()
    payment_due_date: date | None = None
    net_payment_term: int | None = None  # days; None prints no payment terms
    payment_details: str | None = None  # the seller's bank details, printed as given
    footer: str | None = None  # the seller's footer text, printed at the end

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
    """A complete credit note, ready to render (docs/rules.md §16).

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
    footer: str | None = None  # the seller's footer text, printed at the end

    @property
    def is_draft(self) -> bool:
        """Whether the credit note must carry the DRAFT mark."""
        return self.status.strip().lower() == "draft"
