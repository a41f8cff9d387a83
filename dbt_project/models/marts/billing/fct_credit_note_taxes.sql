{#- One row per credit note and tax (docs/rules.md §11, §16): frozen rows of finalized months, drafts of the rest. -#}
with

unioned as (
    {{ frozen_rows_and_drafts(
        ref('finalized_credit_note_taxes'), ref('int_credit_note_taxes_drafted'),
        ref('finalized_invoices'), with_status=true
    ) }}
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
