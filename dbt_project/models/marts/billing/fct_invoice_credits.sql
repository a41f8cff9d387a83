{#- One row per coupon, credit note and wallet that reduced an invoice (docs/rules.md §12 steps 3, 7, 8): frozen rows of finalized months, drafts of the rest. -#}
with

finalized as (
    select * from {{ ref('finalized_invoice_credits') }}
),

drafts as (
    select * from {{ ref('int_invoice_credits_drafted') }}
    where billing_month not in (select billing_month from {{ ref('finalized_invoices') }})
),

unioned as (
    select *, 'finalized' as status from finalized
    union all
    select *, 'draft' as status from drafts
)

select
    invoice_credit_id,
    invoice_id,
    external_customer_id,
    currency,
    credit_type,
    applied_coupon_id,
    coupon_code,
    credit_note_id,
    wallet_code,
    amount,
    billing_month,
    status
from unioned
