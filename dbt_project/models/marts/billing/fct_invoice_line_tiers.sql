{#- How each graduated, volume and package line was priced, one row per tier or package step
    (int_charge_tiers_applied): frozen with finalized invoices, drafts for the rest. -#}
with

finalized as (
    select {{ invoice_line_tier_columns() | join(', ') }}, 'finalized' as status
    from {{ ref('finalized_invoice_line_tiers') }}
),

drafts as (
    select {{ invoice_line_tier_columns() | join(', ') }}, 'draft' as status
    from {{ ref('int_charge_tiers_applied') }}
    where billing_month not in (select billing_month from {{ ref('finalized_invoices') }})
),

tiers as (
    select * from finalized
    union all
    select * from drafts
)

select * from tiers
