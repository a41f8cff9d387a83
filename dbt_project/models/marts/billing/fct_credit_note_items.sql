{#- One row per credited invoice line of a credit note (docs/rules.md §16): frozen rows of finalized months, drafts of the rest. -#}
with

finalized as (
    select * from {{ ref('finalized_credit_note_items') }}
),

drafts as (
    select * from {{ ref('int_credit_note_items_drafted') }}
    where billing_month not in (select billing_month from {{ ref('finalized_invoices') }})
),

unioned as (
    select *, 'finalized' as status from finalized
    union all
    select *, 'draft' as status from drafts
)

select
    credit_note_item_id,
    credit_note_id,
    invoice_id,
    invoice_line_id,
    line_description as description,
    currency,
    item_amount as amount,
    precise_coupons_adjustment_amount,
    precise_taxes_amount,
    billing_month,
    status
from unioned
