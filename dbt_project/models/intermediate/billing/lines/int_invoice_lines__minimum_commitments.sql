{{ config(materialized='ephemeral') }}

{#
    Minimum-commitment true-up lines of the close window (docs/rules.md §6), in the columns of
    every kind of line int_invoice_lines_drafted unions.
-#}
with

billings as (
    select * from {{ ref('int_invoice_lines__billings') }}
),

issued_lines as (
    select external_subscription_id, plan_code, line_type, from_datetime, amount
    from {{ ref('int_invoice_lines__issued_so_far') }}
),

plans as (
    select plan_code, minimum_commitment, tax_codes, valid_from, valid_to
    from {{ ref('stg_catalog__plans') }}
),

currencies as (
    select currency, exponent from {{ ref('stg_reference__currencies') }}
),

{# Minimum commitment (§6): the billing on the last day of a plan period, or at a termination,
    tops the period's fees up to the commitment prorated to the days the phase had in it. In
    arrears that is the invoice closing the period; in advance, the one that opens the next
    (§6 timing), which is the same billing. The fees of the period are every line whose window
    starts in it, from this close and from earlier ones, before coupons (§18.11). -#}
commitment_periods as (
    select
        billings.*,
        plans.minimum_commitment,
        plans.tax_codes as plan_tax_codes,
        {{ period_start('billings.plan_interval', 'billings.anchor_on', 'billings.commitment_day') }}
            as commitment_period_start,
        {{ period_end('billings.plan_interval', 'billings.anchor_on',
            period_start('billings.plan_interval', 'billings.anchor_on', 'billings.commitment_day')) }}
            as commitment_period_end
    from (
        select
            billings.*,
            case when billings.billing_trigger = 'termination' then billings.terminated_on
                else {{ add_days('issuing_date', -1) }}
            end as commitment_day
        from billings
        where billings.billing_trigger in ('period_end', 'termination')
    ) as billings
    inner join plans
        on billings.plan_code = plans.plan_code
        and billings.commitment_day >= plans.valid_from
        and billings.commitment_day < plans.valid_to
    where plans.minimum_commitment > 0
),

{# The commitment prorated to the days the phase had, unrounded, as a column (nested exact
    macros get column operands, macros/money.sql). -#}
closing_commitment_periods as (
    select
        *, {{ divide_exact('commitment_prorated_numerator', 'commitment_period_days') }} as commitment_prorated_amount
    from (
        select
            commitment_periods.*,
            {{ local_midnight_to_utc('commitment_period_start', 'timezone') }} as commitment_from_at,
            {{ local_midnight_to_utc(add_days('commitment_period_end', 1), 'timezone') }} as commitment_to_at,
            commitment_periods.minimum_commitment
            * ({{ days_between('greatest(commitment_period_start, started_on)', 'commitment_day') }} + 1)
                as commitment_prorated_numerator,
            {{ days_between('commitment_period_start', 'commitment_period_end') }} + 1 as commitment_period_days
        from commitment_periods
        where commitment_periods.billing_trigger = 'termination'
            or commitment_periods.commitment_day = commitment_periods.commitment_period_end
    ) as commitment_operands
),

period_fees as (
    select external_subscription_id, plan_code, from_datetime, amount
    from issued_lines
    where line_type <> 'commitment'
),

commitments as (
    select
        closing.subscription_billing_id,
        closing.invoice_id,
        closing.billing_month,
        closing.issuing_date,
        closing.external_customer_id,
        closing.external_subscription_id,
        closing.plan_code,
        closing.currency,
        'commitment' as line_type,
        cast(null as varchar) as charge_code,
        cast(null as varchar) as metric_code,
        cast(null as varchar) as filter_code,
        cast(null as varchar) as pricing_group,
        'Minimum commitment' as description,
        cast(null as varchar) as charge_tax_codes,
        closing.plan_tax_codes,
        cast(1 as decimal(38, 9)) as units,
        cast(0 as bigint) as events_count,
        {{ as_decimal(round_to_exponent('closing.commitment_prorated_amount', 'currencies.exponent')
            ~ ' - coalesce(sum(period_fees.amount), 0)') }} as precise_amount,
        greatest(closing.commitment_from_at, closing.started_at) as from_datetime,
        case when closing.billing_trigger = 'termination' then closing.terminated_at
            else closing.commitment_to_at
        end as to_datetime_exclusive,
        cast(null as timestamp) as first_event_at,
        cast(null as timestamp) as last_event_at,
        cast(null as varchar) as transaction_id,
        closing.invoice_period_start,
        closing.invoice_period_end
    from closing_commitment_periods as closing
    inner join currencies on closing.currency = currencies.currency
    left join period_fees
        on closing.external_subscription_id = period_fees.external_subscription_id
        and closing.plan_code = period_fees.plan_code
        and period_fees.from_datetime >= closing.commitment_from_at
        and period_fees.from_datetime < closing.commitment_to_at
    group by
        closing.subscription_billing_id, closing.invoice_id, closing.billing_month, closing.issuing_date,
        closing.external_customer_id, closing.external_subscription_id, closing.plan_code,
        closing.currency, closing.plan_tax_codes, closing.minimum_commitment, closing.commitment_period_start,
        closing.commitment_period_end, closing.started_on, closing.commitment_day, currencies.exponent,
        closing.commitment_from_at, closing.commitment_to_at, closing.started_at, closing.billing_trigger,
        closing.terminated_at, closing.invoice_period_start, closing.invoice_period_end,
        closing.commitment_prorated_amount
),

{# A period whose fees reach the commitment leaves nothing to make up: no line. -#}
kept as (
    select * from commitments
    where precise_amount > 0
)

select * from kept
