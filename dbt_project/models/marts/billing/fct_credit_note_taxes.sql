{#- One row per credit note and tax (docs/rules.md §11, §16): frozen rows of finalized months, drafts of the rest. -#}
with

finalized as (
    select * from {{ ref('finalized_credit_note_taxes') }}
),

drafts as (
    select * from {{ ref('int_credit_note_taxes_drafted') }}
    where billing_month not in (select billing_month from {{ ref('finalized_invoices') }})
),

unioned as (
    select *, 'finalized' as status from finalized
    union all
    select *, 'draft' as status from drafts
)

select
    credit_note_tax_id,
    credit_note_id,
    tax_code,
    tax_name,
    tax_rate,
    taxable_base_amount,
    tax_amount,
    billing_month,
    status
from unioned
