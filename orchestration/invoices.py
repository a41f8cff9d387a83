"""Read finalized invoices from the `billing` marts into the renderer's and the ledger's models.

Pure mapping: every number comes from SQL as a Decimal (fetchall, never .df()) and is passed on
unchanged.
"""

from collections import defaultdict
from collections.abc import Mapping
from datetime import UTC, date, datetime, timedelta
from decimal import Context, Decimal
from typing import TypeVar
from zoneinfo import ZoneInfo

import duckdb

from invoice_render import (
    AppliedCredit,
    Invoice,
    InvoiceLine,
    LineTier,
    Party,
    TaxLine,
    document_locale,
)
from orchestration.accounting.documents import (
    LedgerCredit,
    LedgerCreditNote,
    LedgerInvoice,
    LedgerRevenue,
    LedgerTax,
    LedgerWalletMovement,
)
from orchestration.sql_rows import one_row


def query_rows(conn: duckdb.DuckDBPyConnection, sql: str, params: list | None = None) -> list[dict]:
    cursor = conn.execute(sql, params or [])
    names = [column[0] for column in cursor.description]
    return [dict(zip(names, row, strict=True)) for row in cursor.fetchall()]


# Wide enough for any decimal(38, x) value and the product of two (the default context keeps 28
# significant digits; amounts reach 29 integer digits, docs/bad-input.md).
_WIDE = Context(prec=100)


def _is_exact_product(units: Decimal | None, price: Decimal | None, amount: Decimal | None) -> bool:
    """Units x unit price is the amount: the unit price can be printed as is."""
    if units is None or price is None or amount is None:
        return False
    return _WIDE.multiply(units, price) == amount


def exact_money(value: Decimal, exponent: int) -> Decimal:
    # decimal(38, 4) columns carry trailing zeros; the amount is already rounded in SQL, so this
    # only drops them (it raises rather than round if SQL ever left more digits).
    quantum = Decimal(1).scaleb(-exponent)
    exact = value.quantize(quantum, context=_WIDE)
    if exact != value:
        raise ValueError(f"{value} is not rounded to {exponent} decimals")
    return exact


def _local_date(instant: datetime | None, timezone: str) -> date | None:
    """The customer's calendar date of a UTC instant (periods are local, docs/rules.md §8)."""
    if instant is None:
        return None
    return instant.replace(tzinfo=UTC).astimezone(ZoneInfo(timezone)).date()


def seller_party(conn: duckdb.DuckDBPyConnection) -> Party:
    row = query_rows(conn, "select * from staging.stg_catalog__billing_entities")[0]
    return Party(
        name=row["entity_name"],
        legal_name=row["legal_name"],
        address_line1=row["address_line1"],
        address_line2=row["address_line2"],
        city=row["city"],
        zipcode=row["zipcode"],
        country=row["country"],
        email=row["email"],
        tax_identification_number=row["tax_identification_number"],
    )


def seller_texts(conn: duckdb.DuckDBPyConnection) -> tuple[str | None, str | None]:
    """The billing entity's payment details and invoice footer, printed as given."""
    return one_row(
        conn.execute(
            "select payment_details, invoice_footer from staging.stg_catalog__billing_entities"
        )
    )


def customer_locale(row: dict) -> str:
    """The Babel locale of a customer's documents (dim_customers' effective document_locale)."""
    return document_locale(row["document_locale"], row["country"])


def customer_party(row: dict) -> Party:
    """The customer block of a document, from a row carrying dim_customers' columns."""
    return Party(
        name=row["customer_name"] or row["external_customer_id"],
        legal_name=row["legal_name"],
        address_line1=row["address_line1"],
        address_line2=row["address_line2"],
        city=row["city"],
        zipcode=row["zipcode"],
        state=row["state"],
        country=row["country"],
        email=row["email"],
        tax_identification_number=row["tax_identification_number"],
    )


def finalized_invoices_for_month(
    conn: duckdb.DuckDBPyConnection, billing_month: date
) -> list[Invoice]:
    """Render models of the finalized invoices of one close month, in number order."""
    invoices = query_rows(
        conn,
        """
        select invoices.*, currencies.exponent, customers.customer_name, customers.legal_name,
               customers.address_line1, customers.address_line2, customers.city, customers.zipcode,
               customers.state, customers.country, customers.email,
               customers.tax_identification_number, customers.timezone,
               customers.document_locale,
               -- The term the frozen due date was computed with (docs/invoices.md).
               datediff('day', invoices.issuing_date, invoices.payment_due_date)
                   as net_payment_term
        from billing.fct_invoices as invoices
        inner join staging.stg_reference__currencies as currencies
            on currencies.currency = invoices.currency
        inner join billing.dim_customers as customers using (external_customer_id)
        where invoices.status = 'finalized' and invoices.billing_month = ?
        order by invoices.invoice_number
        """,
        [billing_month],
    )
    lines = defaultdict(list)
    for line in query_rows(
        conn,
        """
        select
            lines.*,
            (
                select plans.plan_name
                from staging.stg_catalog__plans as plans
                where plans.plan_code = lines.plan_code
                order by plans.valid_from desc
                limit 1
            ) as plan_name
        from billing.fct_invoice_lines as lines
        where lines.billing_month = ?
        -- A spend cap line follows the usage it caps (docs/rules.md §12b).
        order by lines.invoice_id, lines.external_subscription_id nulls last,
            case when lines.line_type = 'spend_cap' then 1 else 0 end,
            lines.line_type desc, lines.description, lines.invoice_line_id
        """,
        [billing_month],
    ):
        lines[line["invoice_id"]].append(line)
    tiers = defaultdict(list)
    for tier in query_rows(
        conn,
        """
        select * from billing.fct_invoice_line_tiers where billing_month = ?
        order by invoice_line_id, tier_rank, step_kind
        """,
        [billing_month],
    ):
        tiers[tier["invoice_line_id"]].append(tier)
    credits = defaultdict(list)
    for credit in query_rows(
        conn,
        """
        select
            credits.invoice_id,
            credits.credit_type,
            coalesce(
                credits.coupon_code, notes.credit_note_number, credits.wallet_code,
                credits.credit_note_id
            ) as credit_name,
            credits.amount
        from billing.fct_invoice_credits as credits
        left join billing.fct_credit_notes as notes on notes.credit_note_id = credits.credit_note_id
        where credits.billing_month = ?
        order by credits.invoice_id, credits.credit_type, credit_name, credits.invoice_credit_id
        """,
        [billing_month],
    ):
        credits[credit["invoice_id"]].append(credit)
    payment_details, footer = seller_texts(conn)
    taxes = defaultdict(list)
    for tax in query_rows(
        conn,
        "select * from billing.fct_invoice_taxes where billing_month = ? order by tax_code",
        [billing_month],
    ):
        taxes[tax["invoice_id"]].append(tax)
    seller = seller_party(conn)
    result = []
    for invoice in invoices:
        exponent = invoice["exponent"]
        result.append(
            Invoice(
                invoice_number=invoice["invoice_number"],
                status=invoice["status"],
                invoice_type=invoice["invoice_type"],
                issuing_date=invoice["issuing_date"],
                billing_period_start=invoice["billing_period_start"],
                billing_period_end=invoice["billing_period_end"],
                currency=invoice["currency"],
                currency_exponent=exponent,
                locale=customer_locale(invoice),
                seller=seller,
                customer=customer_party(invoice),
                payment_due_date=invoice["payment_due_date"],
                net_payment_term=invoice["net_payment_term"],
                payment_details=payment_details,
                footer=footer,
                credits=tuple(
                    AppliedCredit(
                        kind=credit["credit_type"],
                        name=credit["credit_name"],
                        amount=exact_money(credit["amount"], exponent),
                    )
                    for credit in credits[invoice["invoice_id"]]
                ),
                lines=tuple(
                    InvoiceLine(
                        description=line["description"],
                        line_type=line["line_type"],
                        units=line["units"],
                        unit_amount=line["unit_amount"],
                        amount=exact_money(line["amount"], exponent),
                        from_date=_local_date(line["from_datetime"], invoice["timezone"]),
                        # to_datetime is exclusive; the PDF shows the last day billed.
                        to_date=_local_date(
                            line["to_datetime"] and line["to_datetime"] - timedelta(microseconds=1),
                            invoice["timezone"],
                        ),
                        subscription_id=line["external_subscription_id"],
                        plan_name=line["plan_name"],
                        tiers=tuple(_tier(tier) for tier in tiers[line["invoice_line_id"]]),
                        unit_price_is_exact=_is_exact_product(
                            line["units"], line["unit_amount"], line["precise_amount"]
                        ),
                    )
                    for line in lines[invoice["invoice_id"]]
                ),
                taxes=tuple(
                    TaxLine(
                        name=tax["tax_name"],
                        rate=tax["tax_rate"].normalize(),
                        taxable_base_amount=exact_money(tax["taxable_base_amount"], exponent),
                        tax_amount=exact_money(tax["tax_amount"], exponent),
                    )
                    for tax in taxes[invoice["invoice_id"]]
                ),
                **{
                    name: exact_money(invoice[name], exponent)
                    for name in (
                        "fees_amount",
                        "progressive_billing_credit_amount",
                        "coupons_amount",
                        "sub_total_excluding_taxes_amount",
                        "taxes_amount",
                        "sub_total_including_taxes_amount",
                        "credit_notes_amount",
                        "prepaid_credit_amount",
                        "total_amount",
                    )
                },
            )
        )
    return result


def _tier(row: dict) -> LineTier:
    return LineTier(
        kind=row["step_kind"],
        charge_model=row["charge_model"],
        from_value=row["from_value"],
        to_value=row["to_value"],
        units=row["units"],
        unit_amount=row["unit_amount"],
        flat_amount=row["flat_amount"],
        amount=row["precise_amount"],
        package_size=row["package_size"],
        packages=row["packages"],
    )


# Ledger kind of each invoice line type, and the line column naming its account.
LEDGER_REVENUE_OF_LINE_TYPE = {
    "subscription": ("subscription", "plan_code"),
    "charge": ("usage", "metric_code"),
    "spending_minimum": ("spending_minimum", "metric_code"),
    "commitment": ("commitment", "plan_code"),
    # Late data on a finalized line, billed on a later invoice (docs/conventions.md).
    "adjustment": ("restatement", "plan_code"),
    # Wallet credits bought on a `credit` invoice: a prepaid liability until consumed.
    "credit": ("prepaid_credit", "wallet_code"),
    # Usage above a spend cap, not billed (docs/rules.md §12b): negative, per plan.
    "spend_cap": ("spend_cap", "plan_code"),
}

# The fct_invoice_credits column naming the account of each credit type; the type is the
# ledger's credit kind (coupon, credit_note, prepaid_credit).
LEDGER_CREDIT_CODE_COLUMN = {
    "coupon": "coupon_code",
    "credit_note": "credit_note_id",
    "prepaid_credit": "wallet_code",
}

_T = TypeVar("_T")


def _ledger_mapping(mapping: Mapping[str, _T], value: str, what: str) -> _T:
    """Look ``value`` up; an unmapped type is refused, never guessed."""
    if value not in mapping:
        raise ValueError(
            f"unknown {what} {value!r}: map it for the ledger in orchestration/invoices.py"
        )
    return mapping[value]


def _utc_date(instant: datetime) -> date:
    """The UTC calendar date of a timestamp (naive timestamps are UTC already)."""
    if instant.tzinfo is not None:
        instant = instant.astimezone(UTC)
    return instant.date()


def all_finalized_ledger_invoices(conn: duckdb.DuckDBPyConnection) -> list[LedgerInvoice]:
    """Ledger models of every finalized invoice: the ledger is rebuilt from them as a whole.

    Lines give the revenues (and the wallet credits a `credit` invoice sells), fct_invoice_taxes
    the taxes, fct_invoice_credits the coupons, credit notes and prepaid credits applied; the
    progressive-billing credit comes from the invoice itself.
    """
    invoices = query_rows(
        conn,
        """
        select invoices.invoice_id, invoices.invoice_number, invoices.issuing_date,
               invoices.external_customer_id, invoices.currency, invoices.total_amount,
               invoices.progressive_billing_credit_amount,
               coalesce(customers.customer_name, invoices.external_customer_id) as customer_name,
               currencies.exponent
        from billing.fct_invoices as invoices
        inner join billing.dim_customers as customers using (external_customer_id)
        inner join staging.stg_reference__currencies as currencies
            on currencies.currency = invoices.currency
        where invoices.status = 'finalized'
        """,
    )
    exponents = {invoice["invoice_id"]: invoice["exponent"] for invoice in invoices}
    revenues = defaultdict(list)
    for line in query_rows(
        conn,
        """
        select lines.invoice_id, lines.line_type, lines.plan_code, lines.metric_code,
               lines.wallet_code, lines.amount
        from billing.fct_invoice_lines as lines
        inner join billing.fct_invoices as invoices using (invoice_id)
        where invoices.status = 'finalized'
        """,
    ):
        kind, code = _ledger_mapping(LEDGER_REVENUE_OF_LINE_TYPE, line["line_type"], "line type")
        amount = exact_money(line["amount"], exponents[line["invoice_id"]])
        revenues[line["invoice_id"]].append(LedgerRevenue(kind, line[code], amount))
    for invoice in invoices:
        if invoice["progressive_billing_credit_amount"]:
            progressive = exact_money(
                invoice["progressive_billing_credit_amount"], invoice["exponent"]
            )
            revenues[invoice["invoice_id"]].append(
                LedgerRevenue("progressive_billing_credit", "usage", -progressive)
            )
    credits = defaultdict(list)
    for credit in query_rows(
        conn,
        """
        select credits.invoice_id, credits.credit_type, credits.coupon_code,
               credits.credit_note_id, credits.wallet_code, credits.amount
        from billing.fct_invoice_credits as credits
        inner join billing.fct_invoices as invoices using (invoice_id)
        where invoices.status = 'finalized'
        """,
    ):
        kind = credit["credit_type"]
        code = _ledger_mapping(LEDGER_CREDIT_CODE_COLUMN, kind, "credit type")
        amount = exact_money(credit["amount"], exponents[credit["invoice_id"]])
        credits[credit["invoice_id"]].append(LedgerCredit(kind, credit[code], amount))
    taxes = defaultdict(list)
    for tax in query_rows(
        conn,
        """
        select taxes.invoice_id, taxes.tax_code, taxes.tax_rate, taxes.tax_amount
        from billing.fct_invoice_taxes as taxes
        inner join billing.fct_invoices as invoices using (invoice_id)
        where invoices.status = 'finalized'
        """,
    ):
        amount = exact_money(tax["tax_amount"], exponents[tax["invoice_id"]])
        taxes[tax["invoice_id"]].append(LedgerTax(tax["tax_code"], tax["tax_rate"], amount))
    return [
        LedgerInvoice(
            invoice_id=invoice["invoice_id"],
            invoice_number=invoice["invoice_number"],
            issuing_date=invoice["issuing_date"],
            external_customer_id=invoice["external_customer_id"],
            customer_name=invoice["customer_name"],
            currency=invoice["currency"],
            total_amount=exact_money(invoice["total_amount"], invoice["exponent"]),
            revenues=tuple(revenues[invoice["invoice_id"]]),
            taxes=tuple(taxes[invoice["invoice_id"]]),
            credits=tuple(credits[invoice["invoice_id"]]),
        )
        for invoice in invoices
    ]


def all_finalized_ledger_credit_notes(
    conn: duckdb.DuckDBPyConnection,
) -> list[LedgerCreditNote]:
    """Ledger models of every finalized credit note, with its taxes per code and rate."""
    notes = query_rows(
        conn,
        """
        select notes.credit_note_id, notes.credit_note_number, invoices.invoice_number,
               notes.issuing_date, notes.external_customer_id, notes.currency, notes.reason,
               notes.sub_total_excluding_taxes_amount, notes.total_amount, notes.credit_amount,
               notes.refund_amount,
               coalesce(customers.customer_name, notes.external_customer_id) as customer_name,
               currencies.exponent
        from billing.fct_credit_notes as notes
        inner join billing.fct_invoices as invoices
            on invoices.invoice_id = notes.invoice_id
        inner join billing.dim_customers as customers
            on customers.external_customer_id = notes.external_customer_id
        inner join staging.stg_reference__currencies as currencies
            on currencies.currency = notes.currency
        where notes.status = 'finalized'
        """,
    )
    exponents = {note["credit_note_id"]: note["exponent"] for note in notes}
    taxes = defaultdict(list)
    for tax in query_rows(
        conn,
        """
        select taxes.credit_note_id, taxes.tax_code, taxes.tax_rate, taxes.tax_amount
        from billing.fct_credit_note_taxes as taxes
        inner join billing.fct_credit_notes as notes using (credit_note_id)
        where notes.status = 'finalized'
        """,
    ):
        amount = exact_money(tax["tax_amount"], exponents[tax["credit_note_id"]])
        taxes[tax["credit_note_id"]].append(LedgerTax(tax["tax_code"], tax["tax_rate"], amount))
    return [
        LedgerCreditNote(
            credit_note_id=note["credit_note_id"],
            credit_note_number=note["credit_note_number"],
            invoice_number=note["invoice_number"],
            issuing_date=note["issuing_date"],
            external_customer_id=note["external_customer_id"],
            customer_name=note["customer_name"],
            currency=note["currency"],
            reason=note["reason"],
            taxes=tuple(taxes[note["credit_note_id"]]),
            **{
                name: exact_money(note[name], note["exponent"])
                for name in (
                    "sub_total_excluding_taxes_amount",
                    "total_amount",
                    "credit_amount",
                    "refund_amount",
                )
            },
        )
        for note in notes
    ]


def all_ledger_wallet_movements(conn: duckdb.DuckDBPyConnection) -> list[LedgerWalletMovement]:
    """Settled wallet transactions no invoice books, in the months that have finalized invoices.

    Purchases are booked by their credit invoice and consumptions by the invoices' prepaid
    credits, so they are left out here; any other type goes to the ledger, which refuses the
    types it does not know.
    """
    movements = query_rows(
        conn,
        """
        select transactions.wallet_transaction_id, transactions.wallet_code,
               transactions.transaction_type, transactions.created_at,
               transactions.external_customer_id, transactions.currency, transactions.credits,
               transactions.amount,
               coalesce(customers.customer_name, transactions.external_customer_id)
                   as customer_name,
               currencies.exponent
        from billing.fct_wallet_transactions as transactions
        inner join billing.dim_customers as customers
            on customers.external_customer_id = transactions.external_customer_id
        inner join staging.stg_reference__currencies as currencies
            on currencies.currency = transactions.currency
        where transactions.status = 'settled'
            and transactions.transaction_type not in ('purchased', 'consumed')
            and transactions.billing_month in (
                select invoices.billing_month
                from billing.fct_invoices as invoices
                where invoices.status = 'finalized'
            )
        """,
    )
    return [
        LedgerWalletMovement(
            wallet_transaction_id=movement["wallet_transaction_id"],
            wallet_code=movement["wallet_code"],
            transaction_type=movement["transaction_type"],
            movement_date=_utc_date(movement["created_at"]),
            external_customer_id=movement["external_customer_id"],
            customer_name=movement["customer_name"],
            currency=movement["currency"],
            credits=movement["credits"],
            amount=exact_money(movement["amount"], movement["exponent"]),
        )
        for movement in movements
    ]
