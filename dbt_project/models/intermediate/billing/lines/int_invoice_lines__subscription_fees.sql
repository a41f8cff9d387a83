{{ config(materialized='ephemeral') }}

{#
    Subscription fee lines of the close window (docs/rules.md §9): each billing's plan fee, for
    the whole period or prorated to the days it bills, in the columns of every kind of line
    int_invoice_lines_drafted unions.
-#}
with

billings as (
    select * from {{ ref('int_invoice_lines__billings') }}
),

plans as (
    select plan_code, plan_name, amount, tax_codes, valid_from, valid_to
    from {{ ref('stg_catalog__plans') }}
),

subscription_fees as (
    select
        billings.subscription_billing_id,
        billings.invoice_id,
        billings.billing_month,
        billings.issuing_date,
        billings.external_customer_id,
        billings.external_subscription_id,
        billings.plan_code,
        billings.currency,
        'subscription' as line_type,
        cast(null as varchar) as charge_code,
        cast(null as varchar) as metric_code,
        cast(null as varchar) as filter_code,
        cast(null as varchar) as pricing_group,
        plans.plan_name as description,
        cast(null as varchar) as charge_tax_codes,
        plans.tax_codes as plan_tax_codes,
        cast(1 as decimal(38, 9)) as units,
        cast(0 as bigint) as events_count,
        -- Full period unless the phase started, its trial ended, or it ends inside it (§9).
        case
            when billings.fee_billed_days >= billings.fee_period_days then {{ as_decimal('plans.amount') }}
            else {{ divide_exact('plans.amount * billings.fee_billed_days', 'billings.fee_period_days') }}
        end as precise_amount,
        {{ local_midnight_to_utc('billings.fee_from_on', 'billings.timezone') }} as from_datetime,
        case
            when billings.billing_trigger = 'termination' then billings.terminated_at
            else {{ local_midnight_to_utc(add_days('billings.fee_period_end', 1), 'billings.timezone') }}
        end as to_datetime_exclusive,
        cast(null as timestamp) as first_event_at,
        cast(null as timestamp) as last_event_at,
        cast(null as varchar) as transaction_id,
        billings.invoice_period_start,
        billings.invoice_period_end
    from billings
    inner join plans
        on billings.plan_code = plans.plan_code
        and billings.fee_period_start >= plans.valid_from
        and billings.fee_period_start < plans.valid_to
    -- No day to bill (a trial over the whole period, an upgrade on the period's first day): no line.
    where billings.fee_billed_days > 0
)

select * from subscription_fees
