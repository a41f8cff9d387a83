{#-
    The charges each scheduled billing of the close window prices in arrears, with their metric,
    both as in force at the start of the charges period (CONTRACT §3.1): every in-arrears charge,
    and the recurring pay-in-advance charges, whose full units each period-end billing bills again
    (rule book §7). Other pay-in-advance charges are priced per event
    (int_pay_in_advance_fees_priced).
-#}
with

billings as (
    select
        subscription_billing_id,
        billing_month,
        billing_trigger,
        external_subscription_id,
        plan_code,
        timezone,
        charges_period_start,
        charges_period_end,
        charges_period_days,
        charges_from_at,
        charges_to_at,
        terminated_on
    from {{ ref('int_subscription_billings_scheduled') }}
    where
        charges_from_at is not null
        and billing_month >= {{ billing_period_start() }}
        and billing_month < {{ billing_period_end() }}
),

charges as (
    select * from {{ ref('stg_catalog__charges') }}
),

metrics as (
    select * from {{ ref('stg_catalog__billable_metrics') }}
)

select
    billings.subscription_billing_id,
    billings.billing_month,
    billings.billing_trigger,
    billings.external_subscription_id,
    billings.timezone,
    billings.charges_period_start,
    billings.charges_period_days,
    billings.charges_from_at,
    billings.charges_to_at,
    -- The window's first and last local days, both inclusive, for day-weighted proration (§2.1).
    {{ utc_to_local_date('billings.charges_from_at', 'billings.timezone') }} as charges_from_date,
    case when billings.billing_trigger = 'termination' then billings.terminated_on
        else billings.charges_period_end end as charges_to_date,
    charges.charge_code,
    charges.pricing_group_keys as charge_pricing_group_keys,
    charges.is_prorated and not charges.is_pay_in_advance as is_prorated,
    charges.metric_code,
    metrics.aggregation,
    metrics.field_name,
    metrics.is_recurring,
    metrics.rounding_function,
    metrics.rounding_precision
from billings
inner join charges
    on billings.plan_code = charges.plan_code
    and billings.charges_period_start >= charges.valid_from
    and billings.charges_period_start < charges.valid_to
inner join metrics
    on charges.metric_code = metrics.metric_code
    and billings.charges_period_start >= metrics.valid_from
    and billings.charges_period_start < metrics.valid_to
where
    not charges.is_pay_in_advance
    or (metrics.is_recurring and billings.billing_trigger = 'period_end')
