{{ config(tags=['usage']) }}
{#
    Current usage (docs/current-usage.md, docs/rules.md §20.2-20.3): one row per active subscription,
    charge, filter and pricing group, for the period that holds the usage instant. Every charge is
    listed, zero usage priced by its model; pay-in-advance charges take the sum of their fees of
    the period (the high-water mark of a sum), with the period's raw running units.
-#}
with

billing_charges as (
    select * from {{ ref('int_usage_billing_charges') }}
),

priced as (
    select * from {{ ref('int_usage_charges_priced') }}
),

advance_fees as (
    select
        external_subscription_id,
        charge_code,
        filter_code,
        pricing_group,
        {{ as_decimal('sum(precise_amount)') }} as precise_amount
    from {{ ref('int_usage_pay_in_advance_fees') }}
    group by external_subscription_id, charge_code, filter_code, pricing_group
),

currencies as (
    select currency, exponent from {{ ref('stg_reference__currencies') }}
),

instant as (
    select as_of_at, computed_at from {{ ref('int_usage_instant') }}
),

lines as (
    select
        billing_charges.external_subscription_id,
        billing_charges.external_customer_id,
        billing_charges.plan_code,
        billing_charges.charge_code,
        billing_charges.metric_code,
        billing_charges.metric_name,
        billing_charges.aggregation,
        priced.charge_model,
        billing_charges.is_pay_in_advance,
        billing_charges.is_invoiceable,
        billing_charges.is_recurring,
        priced.filter_code,
        priced.pricing_group,
        billing_charges.charges_from_at as from_datetime,
        {{ add_seconds_to_instant('billing_charges.charges_to_at', -1) }} as to_datetime,
        priced.units,
        priced.events_count,
        {{ as_decimal(
            'case when billing_charges.is_pay_in_advance then coalesce(advance_fees.precise_amount, 0)'
            ~ ' else priced.amount end'
        ) }} as precise_amount,
        billing_charges.currency,
        currencies.exponent as currency_exponent,
        priced.first_event_at,
        priced.last_event_at
    from priced
    inner join billing_charges
        on priced.subscription_billing_id = billing_charges.subscription_billing_id
        and priced.charge_code = billing_charges.charge_code
    inner join currencies on billing_charges.currency = currencies.currency
    left join advance_fees
        on billing_charges.external_subscription_id = advance_fees.external_subscription_id
        and priced.charge_code = advance_fees.charge_code
        and priced.filter_code = advance_fees.filter_code
        and priced.pricing_group is not distinct from advance_fees.pricing_group
)

select
    {{ hash_key(['lines.external_subscription_id', 'lines.from_datetime', 'lines.charge_code',
        'lines.filter_code', 'lines.pricing_group']) }} as usage_line_id,
    lines.external_subscription_id,
    lines.external_customer_id,
    lines.plan_code,
    lines.charge_code,
    lines.metric_code,
    lines.metric_name,
    lines.aggregation,
    lines.charge_model,
    lines.is_pay_in_advance,
    lines.is_invoiceable,
    lines.is_recurring,
    lines.filter_code,
    lines.pricing_group,
    lines.from_datetime,
    lines.to_datetime,
    lines.units,
    lines.events_count,
    lines.precise_amount,
    -- Rounded per fee (§20.3); a subscription's amount is the sum of these.
    {{ round_to_exponent('lines.precise_amount', 'lines.currency_exponent') }} as amount,
    lines.currency,
    lines.first_event_at,
    lines.last_event_at,
    instant.as_of_at,
    instant.computed_at
from lines
cross join instant
