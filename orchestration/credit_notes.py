"""Read finalized credit notes from the `billing` marts into the renderer's models (issue #5).

Pure mapping, like `orchestration.invoices`: every number comes from SQL as a Decimal (fetchall,
never .df()) and is passed on unchanged; `exact_money` only drops trailing zeros and refuses an
amount that is not rounded to the currency.
"""

from collections import defaultdict
from datetime import date

import duckdb

from invoice_render import CreditNote, CreditNoteItem, Party, TaxLine
from orchestration.invoices import (
    customer_locale,
    customer_party,
    exact_money,
    query_rows,
    seller_party,
    seller_texts,
)

# Left joins, so that a note whose invoice or currency is missing fails loudly instead of
# silently getting no PDF.
CREDIT_NOTES_SQL = """
select
    credit_notes.credit_note_id,
    credit_notes.credit_note_number,
    credit_notes.status,
    credit_notes.reason,
    credit_notes.description,
    credit_notes.issuing_date,
    credit_notes.currency,
    credit_notes.external_customer_id,
    credit_notes.sub_total_excluding_taxes_amount,
    credit_notes.coupons_adjustment_amount,
    credit_notes.taxes_amount,
    credit_notes.total_amount,
    credit_notes.credit_amount,
    credit_notes.refund_amount,
    invoices.invoice_number,
    invoices.issuing_date as invoice_issuing_date,
    currencies.exponent,
    customers.customer_name,
    customers.legal_name,
    customers.address_line1,
    customers.address_line2,
    customers.city,
    customers.zipcode,
    customers.state,
    customers.country,
    customers.email,
    customers.tax_identification_number,
    customers.document_locale
from billing.fct_credit_notes as credit_notes
left join billing.fct_invoices as invoices
    on invoices.invoice_id = credit_notes.invoice_id
left join staging.stg_reference__currencies as currencies
    on currencies.currency = credit_notes.currency
left join billing.dim_customers as customers
    on customers.external_customer_id = credit_notes.external_customer_id
where credit_notes.status = 'finalized' and credit_notes.billing_month = ?
order by credit_notes.credit_note_number, credit_notes.credit_note_id
"""

CREDIT_NOTE_ITEMS_SQL = """
select
    items.credit_note_id,
    items.credit_note_item_id,
    items.description,
    items.amount,
    items.currency
from billing.fct_credit_note_items as items
inner join billing.fct_credit_notes as credit_notes
    on credit_notes.credit_note_id = items.credit_note_id
where credit_notes.status = 'finalized' and credit_notes.billing_month = ?
order by items.credit_note_id, items.description, items.credit_note_item_id
"""

CREDIT_NOTE_TAXES_SQL = """
select
    taxes.credit_note_id,
    taxes.tax_code,
    taxes.tax_name,
    taxes.tax_rate,
    taxes.taxable_base_amount,
    taxes.tax_amount
from billing.fct_credit_note_taxes as taxes
inner join billing.fct_credit_notes as credit_notes
    on credit_notes.credit_note_id = taxes.credit_note_id
where credit_notes.status = 'finalized' and credit_notes.billing_month = ?
order by taxes.credit_note_id, taxes.tax_code
"""

AMOUNT_COLUMNS = (
    "sub_total_excluding_taxes_amount",
    "coupons_adjustment_amount",
    "taxes_amount",
    "total_amount",
    "credit_amount",
    "refund_amount",
)


def finalized_credit_notes_for_month(
    conn: duckdb.DuckDBPyConnection, month: date
) -> list[CreditNote]:
    """Render models of the finalized credit notes of one billing month, in number order.

    Raises:
        ValueError: if a note's credited invoice, currency or number is missing, an item is in
            another currency, or an amount is not rounded to the currency.
    """
    notes = query_rows(conn, CREDIT_NOTES_SQL, [month])
    if not notes:
        return []
    items = defaultdict(list)
    for item in query_rows(conn, CREDIT_NOTE_ITEMS_SQL, [month]):
        items[item["credit_note_id"]].append(item)
    taxes = defaultdict(list)
    for tax in query_rows(conn, CREDIT_NOTE_TAXES_SQL, [month]):
        taxes[tax["credit_note_id"]].append(tax)
    seller = seller_party(conn)
    _, footer = seller_texts(conn)
    return [
        _credit_note(
            note, items[note["credit_note_id"]], taxes[note["credit_note_id"]], seller, footer
        )
        for note in notes
    ]


def _credit_note(
    note: dict, items: list[dict], taxes: list[dict], seller: Party, footer: str | None
) -> CreditNote:
    credit_note_id = note["credit_note_id"]
    if not note["credit_note_number"]:
        raise ValueError(f"finalized credit note {credit_note_id} has no number")
    if not note["invoice_number"]:
        raise ValueError(f"credit note {credit_note_id}: credited invoice missing or unnumbered")
    if note["exponent"] is None:
        raise ValueError(f"credit note {credit_note_id}: unknown currency {note['currency']!r}")
    exponent = note["exponent"]
    for item in items:
        if item["currency"] != note["currency"]:
            raise ValueError(
                f"credit note {credit_note_id}: item {item['credit_note_item_id']} is in "
                f"{item['currency']}, the note in {note['currency']}"
            )
    return CreditNote(
        credit_note_number=note["credit_note_number"],
        status=note["status"],
        reason=note["reason"],
        description=note["description"],
        issuing_date=note["issuing_date"],
        invoice_number=note["invoice_number"],
        invoice_issuing_date=note["invoice_issuing_date"],
        currency=note["currency"],
        currency_exponent=exponent,
        locale=customer_locale(note),
        footer=footer,
        seller=seller,
        customer=customer_party(note),
        items=tuple(
            CreditNoteItem(
                description=item["description"], amount=exact_money(item["amount"], exponent)
            )
            for item in items
        ),
        taxes=tuple(
            TaxLine(
                name=tax["tax_name"],
                rate=tax["tax_rate"],
                taxable_base_amount=exact_money(tax["taxable_base_amount"], exponent),
                tax_amount=exact_money(tax["tax_amount"], exponent),
            )
            for tax in taxes
        ),
        **{name: exact_money(note[name], exponent) for name in AMOUNT_COLUMNS},
    )
