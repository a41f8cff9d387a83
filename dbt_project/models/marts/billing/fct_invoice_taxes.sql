{#- One row per invoice and tax (docs/rules.md §11). -#}
with

finalized as (
    select * from {{ ref('finalized_invoice_taxes') }}
),

drafts as (
    select * from {{ ref('int_invoice_taxes_drafted') }}
    where billing_month not in (select billing_month from {{ ref('finalized_invoices') }})
),

invoice_taxes as (
    select * from finalized
    union all
    select * from drafts
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
