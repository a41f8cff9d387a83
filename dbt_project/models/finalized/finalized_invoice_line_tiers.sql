{#- Frozen per-tier rows of the lines frozen in finalized_invoice_lines (append-only), so that a
    finalized invoice's PDF shows, and re-renders, the same tier breakdown for ever. -#}
with

tiers as (
    select *
    from {{ ref('int_charge_tiers_applied') }}
    where billing_month = {{ finalize_month() }}
),

frozen_invoices as (
    select invoice_id from {{ ref('finalized_invoices') }}
)

select
    tiers.{{ invoice_line_tier_columns() | join(',\n    tiers.') }}
from tiers
where
    tiers.invoice_id in (select invoice_id from frozen_invoices)
{% if is_incremental() %}
    and tiers.invoice_line_tier_id not in (select invoice_line_tier_id from {{ this }})
{% endif %}
