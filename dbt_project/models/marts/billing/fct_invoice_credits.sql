{#- One row per coupon, credit note and wallet that reduced an invoice (docs/rules.md §12 steps
    3, 7, 8): frozen rows of finalized months, drafts of the rest. -#}
with

unioned as (
    {{ frozen_rows_and_drafts(
        ref('finalized_invoice_credits'), ref('int_invoice_credits_drafted'),
        ref('finalized_invoices'), with_status=true
    ) }}
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
