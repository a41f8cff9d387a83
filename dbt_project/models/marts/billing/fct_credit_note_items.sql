{#- One row per credited invoice line of a credit note (docs/rules.md §16): frozen rows of
    finalized months, drafts of the rest. -#}
with

unioned as (
    {{ frozen_rows_and_drafts(
        ref('finalized_credit_note_items'), ref('int_credit_note_items_drafted'),
        ref('finalized_invoices'), with_status=true
    ) }}
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
