{{ config(tags=['usage']) }}
{#
    Every charge of each active subscription's current period (docs/current-usage.md), in the
    columns of the close's int_subscription_billing_charges: in-arrears and pay-in-advance
    charges alike, invoiceable or not. All of them are aggregated the close's way (their units are
    the raw running total of the period, not prorated: `is_prorated` only prices in-arrears
    prorated charges); a pay-in-advance charge then takes its amount from its fees instead.
-#}
with

periods as (
    select * from {{ ref('int_usage_periods') }}
),

charges as (
    select * from {{ ref('stg_catalog__charges') }}
),

metrics as (
    select * from {{ ref('stg_catalog__billable_metrics') }}
)

select
    periods.charges_period_id as subscription_billing_id,
    periods.billing_month,
    'current_usage' as billing_trigger,
    periods.external_subscription_id,
    periods.external_customer_id,
    periods.plan_code,
    periods.currency,
    periods.timezone,
    periods.charges_period_start,
    periods.charges_period_end,
    periods.charges_period_days,
    periods.charges_from_at,
    periods.charges_to_at,
    periods.is_end_served,
    false as is_billing_day_fee,
    periods.charges_period_start as charges_from_date,
    periods.charges_period_end as charges_to_date,
    charges.charge_code,
    charges.charge_model,
    charges.is_pay_in_advance,
    charges.is_invoiceable,
    charges.tax_codes as charge_tax_codes,
    charges.pricing_group_keys as charge_pricing_group_keys,
    charges.is_prorated and not charges.is_pay_in_advance as is_prorated,
    charges.metric_code,
    metrics.metric_name,
    metrics.aggregation,
    metrics.field_name,
    metrics.is_recurring,
    metrics.rounding_function,
    metrics.rounding_precision,
    periods.as_of_at,
    periods.as_of_on
from periods
inner join charges
    on periods.plan_code = charges.plan_code
    and periods.charges_period_start >= charges.valid_from
    and periods.charges_period_start < charges.valid_to
inner join metrics
    on charges.metric_code = metrics.metric_code
    and periods.charges_period_start >= metrics.valid_from
    and periods.charges_period_start < metrics.valid_to
