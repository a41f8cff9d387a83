{{ config(tags=['usage']) }}
{#
    The charges a `billable_metric_lifetime_usage_units` alert watches (docs/rules.md §21.1): the
    current-usage charges (int_usage_billing_charges) on the alert's metric, for the subscriptions
    that have such an alert in force, and only those, so that a refresh without one aggregates
    nothing. Each keeps its current period's columns but its window starts at the subscription's
    start (Lago's full usage): the rating macros then aggregate every event since the start, up to
    the usage instant, in one window (the units of all periods, not a sum of per-period units).

    A (subscription, metric) with a prorated charge is left out: Lago refuses usage since the start
    of a prorated charge. int_alerts_validated rejects such alerts already; this keeps a catalog
    change after validation from being aggregated the unprorated way.
-#}
with

alerts as (
    select distinct external_subscription_id, metric_code
    from {{ ref('int_alerts_validated') }}
    where is_in_force and alert_type = 'billable_metric_lifetime_usage_units'
),

watched as (
    select billing_charges.*
    from {{ ref('int_usage_billing_charges') }} as billing_charges
    inner join alerts
        on billing_charges.external_subscription_id = alerts.external_subscription_id
        and billing_charges.metric_code = alerts.metric_code
),

{# Lago reads the charge's own prorated flag, pay-in-advance charges included. -#}
refused as (
    select distinct watched.subscription_billing_id, watched.metric_code
    from watched
    inner join {{ ref('stg_catalog__charges') }} as charges
        on watched.charge_code = charges.charge_code
        and watched.charges_period_start >= charges.valid_from
        and watched.charges_period_start < charges.valid_to
    where charges.is_prorated
),

periods as (
    select charges_period_id, started_at from {{ ref('int_usage_periods') }}
)

select
    watched.subscription_billing_id,
    watched.billing_month,
    watched.billing_trigger,
    watched.external_subscription_id,
    watched.external_customer_id,
    watched.plan_code,
    watched.currency,
    watched.timezone,
    watched.charges_period_start,
    watched.charges_period_end,
    -- Weighted sums divide by the current period's length, as Lago's full usage does.
    watched.charges_period_days,
    periods.started_at as charges_from_at,
    watched.charges_to_at,
    watched.is_end_served,
    watched.is_billing_day_fee,
    watched.charges_from_date,
    watched.charges_to_date,
    watched.charge_code,
    watched.charge_model,
    watched.is_pay_in_advance,
    watched.is_invoiceable,
    watched.charge_pricing_group_keys,
    false as is_prorated,
    watched.metric_code,
    watched.aggregation,
    watched.field_name,
    watched.is_recurring,
    watched.rounding_function,
    watched.rounding_precision,
    watched.as_of_at
from watched
inner join periods on watched.subscription_billing_id = periods.charges_period_id
left join refused
    on watched.subscription_billing_id = refused.subscription_billing_id
    and watched.metric_code = refused.metric_code
where refused.subscription_billing_id is null
