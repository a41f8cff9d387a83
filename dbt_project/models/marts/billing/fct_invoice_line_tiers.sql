{#- How each graduated, volume and package line was priced, one row per tier or package step
    (int_charge_tiers_applied): frozen with finalized invoices, drafts for the rest. -#}
with

tiers as (
    {{ frozen_rows_and_drafts(
        ref('finalized_invoice_line_tiers'), ref('int_charge_tiers_applied'), ref('finalized_invoices'),
        columns=invoice_line_tier_columns(), with_status=true
    ) }}
)

select * from tiers
