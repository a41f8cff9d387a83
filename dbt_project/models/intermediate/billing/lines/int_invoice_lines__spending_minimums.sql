{{ config(materialized='ephemeral') }}

{#
    Spending-minimum true-up lines of the close window (docs/rules.md §5), in the columns of every
    kind of line int_invoice_lines_drafted unions.
-#}
with

billings as (
    select * from {{ ref('int_invoice_lines__billings') }}
),

charge_fees as (
    select subscription_billing_id, charge_code, precise_amount
    from {{ ref('int_invoice_lines__charge_fees') }}
),

plans as (
    select plan_code, tax_codes, valid_from, valid_to
    from {{ ref('stg_catalog__plans') }}
),

charges as (
    select charge_code, plan_code, metric_code, tax_codes, min_amount, is_pay_in_advance, valid_from, valid_to
    from {{ ref('stg_catalog__charges') }}
),

metrics as (
    select metric_code, metric_name, valid_from, valid_to
    from {{ ref('stg_catalog__billable_metrics') }}
),

currencies as (
    select currency, exponent from {{ ref('stg_reference__currencies') }}
),

{# Spending minimum (§5): when a charge's fees, all buckets together, stay below its minimum
    prorated to the days billed, a true-up line makes up the difference. -#}
spending_minimums as (
    select
        billings.subscription_billing_id,
        billings.invoice_id,
        billings.billing_month,
        billings.issuing_date,
        billings.external_customer_id,
        billings.external_subscription_id,
        billings.plan_code,
        billings.currency,
        'spending_minimum' as line_type,
        charges.charge_code,
        charges.metric_code,
        cast(null as varchar) as filter_code,
        cast(null as varchar) as pricing_group,
        metrics.metric_name || ' · minimum spend' as description,
        charges.tax_codes as charge_tax_codes,
        max(plans.tax_codes) as plan_tax_codes,
        cast(1 as decimal(38, 9)) as units,
        cast(0 as bigint) as events_count,
        {{ divide_exact(
            'charges.min_amount * greatest(0, ' ~ days_between('billings.charges_from_date', 'billings.charges_to_date') ~ ' + 1)',
            'billings.charges_period_days') }}
        - coalesce(sum({{ round_to_exponent('charge_fees.precise_amount', 'currencies.exponent') }}), 0)
            as precise_amount,
        billings.charges_from_at as from_datetime,
        billings.charges_to_at as to_datetime_exclusive,
        cast(null as timestamp) as first_event_at,
        cast(null as timestamp) as last_event_at,
        cast(null as varchar) as transaction_id,
        billings.invoice_period_start,
        billings.invoice_period_end
    from billings
    inner join charges
        on billings.plan_code = charges.plan_code
        and billings.charges_period_start >= charges.valid_from
        and billings.charges_period_start < charges.valid_to
    inner join plans
        on billings.plan_code = plans.plan_code
        and billings.charges_period_start >= plans.valid_from
        and billings.charges_period_start < plans.valid_to
    inner join currencies on billings.currency = currencies.currency
    left join charge_fees
        on billings.subscription_billing_id = charge_fees.subscription_billing_id
        and charges.charge_code = charge_fees.charge_code
    inner join metrics
        on charges.metric_code = metrics.metric_code
        and billings.charges_period_start >= metrics.valid_from
        and billings.charges_period_start < metrics.valid_to
    where billings.charges_from_at is not null
        and charges.min_amount > 0
        and not charges.is_pay_in_advance
    group by
        billings.subscription_billing_id, billings.invoice_id, billings.billing_month,
        billings.issuing_date, billings.external_customer_id, billings.external_subscription_id,
        billings.plan_code, billings.currency, charges.charge_code, charges.metric_code,
        metrics.metric_name, charges.tax_codes,
        charges.min_amount, billings.charges_from_at, billings.charges_to_at,
        billings.charges_from_date, billings.charges_to_date,
        billings.charges_period_days, billings.invoice_period_start, billings.invoice_period_end
),

{# Fees that reach the minimum leave nothing to make up: no line. -#}
kept as (
    select * from spending_minimums
    where precise_amount > 0
)

select * from kept
