{{ config(materialized='ephemeral') }}

{#
    The scheduled billings of the close window, with the bounds of the subscription period each
    one's invoice closes: what the subscription-fee, charge-fee, spending-minimum and
    minimum-commitment lines of int_invoice_lines_drafted are built on.
-#}
with

billings as (
    select
        *,
        -- docs/conventions.md: the bounds of the period the invoice closes.
        coalesce(charges_period_start, fee_period_start) as invoice_period_start,
        case
            when billing_trigger = 'termination' then terminated_on
            else coalesce(charges_period_end, fee_period_end)
        end as invoice_period_end
    from {{ ref('int_subscription_billings_scheduled') }}
    where billing_month >= {{ billing_period_start() }} and billing_month < {{ billing_period_end() }}
)

select * from billings
