{{ config(materialized='ephemeral') }}

{#
    Pay-in-advance fee lines of the close window (docs/rules.md §7), one per event, in the columns
    of every kind of line int_invoice_lines_drafted unions.
-#}
with

pay_in_advance_fees as (
    select *
    from {{ ref('int_pay_in_advance_fees_priced') }}
    where billing_month >= {{ billing_period_start() }} and billing_month < {{ billing_period_end() }}
),

plans as (
    select plan_code, tax_codes, valid_from, valid_to
    from {{ ref('stg_catalog__plans') }}
),

charges as (
    select charge_code, tax_codes, valid_from, valid_to
    from {{ ref('stg_catalog__charges') }}
),

metrics as (
    select metric_code, metric_name, valid_from, valid_to
    from {{ ref('stg_catalog__billable_metrics') }}
),

{# Pay-in-advance fees (§7), one per event; not invoiceable ones have no invoice (docs/conventions.md). -#}
advance_fees as (
    select
        cast(null as varchar) as subscription_billing_id,
        pay_in_advance_fees.invoice_id,
        pay_in_advance_fees.billing_month,
        pay_in_advance_fees.issuing_date,
        pay_in_advance_fees.external_customer_id,
        pay_in_advance_fees.external_subscription_id,
        pay_in_advance_fees.plan_code,
        pay_in_advance_fees.currency,
        'charge' as line_type,
        pay_in_advance_fees.charge_code,
        pay_in_advance_fees.metric_code,
        nullif(pay_in_advance_fees.filter_code, '') as filter_code,
        pay_in_advance_fees.pricing_group,
        metrics.metric_name
        || case when pay_in_advance_fees.filter_code <> '' then ' · ' || pay_in_advance_fees.filter_code else '' end
        || coalesce(' · ' || pay_in_advance_fees.pricing_group, '') as description,
        charges.tax_codes as charge_tax_codes,
        plans.tax_codes as plan_tax_codes,
        pay_in_advance_fees.units,
        cast(1 as bigint) as events_count,
        pay_in_advance_fees.precise_amount,
        pay_in_advance_fees.charges_from_at as from_datetime,
        pay_in_advance_fees.charges_to_at as to_datetime_exclusive,
        pay_in_advance_fees.event_at as first_event_at,
        pay_in_advance_fees.event_at as last_event_at,
        pay_in_advance_fees.transaction_id,
        pay_in_advance_fees.charges_period_start as invoice_period_start,
        pay_in_advance_fees.charges_period_end as invoice_period_end
    from pay_in_advance_fees
    inner join charges
        on pay_in_advance_fees.charge_code = charges.charge_code
        and pay_in_advance_fees.charges_period_start >= charges.valid_from
        and pay_in_advance_fees.charges_period_start < charges.valid_to
    inner join metrics
        on pay_in_advance_fees.metric_code = metrics.metric_code
        and pay_in_advance_fees.charges_period_start >= metrics.valid_from
        and pay_in_advance_fees.charges_period_start < metrics.valid_to
    inner join plans
        on pay_in_advance_fees.plan_code = plans.plan_code
        and pay_in_advance_fees.charges_period_start >= plans.valid_from
        and pay_in_advance_fees.charges_period_start < plans.valid_to
)

select * from advance_fees
