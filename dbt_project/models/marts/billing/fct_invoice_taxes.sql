{#- One row per invoice and tax (docs/rules.md §11). -#}
with

invoice_taxes as (
    {{ frozen_rows_and_drafts(
        ref('finalized_invoice_taxes'), ref('int_invoice_taxes_drafted'), ref('finalized_invoices')
    ) }}
)

select
    invoice_tax_id,
    invoice_id,
    tax_code,
    tax_name,
    tax_rate,
    taxable_base_amount,
    precise_tax_amount,
    tax_amount,
    billing_month
from invoice_taxes
