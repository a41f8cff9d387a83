{{ config(materialized='ephemeral') }}

{#
    Progressive-billing lines (docs/rules.md §14): every bucket of a period at its amount so far,
    on the invoice that each threshold crossing of the close window issues, in the columns of
    every kind of line int_invoice_lines_drafted unions.
-#}
with

issued_lines as (
    select external_subscription_id, plan_code, line_type, transaction_id, issuing_date, amount
    from {{ ref('int_invoice_lines__issued_so_far') }}
),

plans as (
    select plan_code, tax_codes, valid_from, valid_to
    from {{ ref('stg_catalog__plans') }}
),

charges as (
    select charge_code, metric_code, tax_codes, valid_from, valid_to
    from {{ ref('stg_catalog__charges') }}
),

metrics as (
    select metric_code, metric_name, valid_from, valid_to
    from {{ ref('stg_catalog__billable_metrics') }}
),

{# Progressive billing (§14): the lifetime usage of a phase is what its subscription invoices
    billed in charges before the period (invoiced usage) plus the period's usage so far
    (int_usage_threshold_steps). An event passes a fixed threshold t when it lifts the lifetime
    usage from below t to t or more, which happens once in a lifetime (§18.10). It passes the
    recurring threshold r when, still below the largest fixed threshold F before it, it lifts
    the usage r above F; and, once at or above F, when it crosses a multiple of r (Lago's
    `actual + invoiced mod r >= r`). Each event that passes a threshold issues an invoice at its
    instant with every bucket of the period at its amount so far; what earlier ones billed is
    credited on the next invoice (int_progressive_billing_credits). -#}
threshold_steps as (
    -- Whole periods: the window's steps and those earlier closes kept of the same periods.
    select *
    from {{ ref('int_usage_threshold_steps') }}
    where scope_key in (
            select scope_key from {{ ref('int_usage_threshold_steps') }}
            where billing_month >= {{ billing_period_start() }} and billing_month < {{ billing_period_end() }}
        )
),

threshold_rules as (
    select
        plan_code,
        coalesce(max(case when not is_recurring then threshold_amount end), 0) as largest_fixed_amount,
        max(case when is_recurring then threshold_amount end) as recurring_amount
    from {{ ref('stg_catalog__usage_thresholds') }}
    group by plan_code
),

threshold_periods as (
    select distinct scope_key, external_subscription_id, plan_code, charges_period_start
    from threshold_steps
),

invoiced_usage as (
    select threshold_periods.scope_key, coalesce(sum(issued_lines.amount), 0) as invoiced_amount
    from threshold_periods
    left join issued_lines
        on threshold_periods.external_subscription_id = issued_lines.external_subscription_id
        and threshold_periods.plan_code = issued_lines.plan_code
        and issued_lines.line_type = 'charge'
        and issued_lines.transaction_id is null
        -- Invoiced by the period's start: earlier periods' charges, and the billing-day fee of a
        -- recurring pay-in-advance charge issued that day for this period (§7).
        and issued_lines.issuing_date <= threshold_periods.charges_period_start
    group by threshold_periods.scope_key
),

lifetime_steps as (
    select
        threshold_steps.scope_key,
        threshold_steps.step_number,
        threshold_steps.billing_month,
        threshold_rules.largest_fixed_amount,
        threshold_rules.recurring_amount,
        invoiced_usage.invoiced_amount + threshold_steps.usage_before as lifetime_before,
        invoiced_usage.invoiced_amount + threshold_steps.usage_after as lifetime_after
    from threshold_steps
    inner join invoiced_usage on threshold_steps.scope_key = invoiced_usage.scope_key
    inner join threshold_rules on threshold_steps.plan_code = threshold_rules.plan_code
),

fixed_passes as (
    select distinct lifetime_steps.scope_key, lifetime_steps.step_number
    from lifetime_steps
    inner join threshold_steps
        on lifetime_steps.scope_key = threshold_steps.scope_key
        and lifetime_steps.step_number = threshold_steps.step_number
    inner join {{ ref('stg_catalog__usage_thresholds') }} as thresholds
        on threshold_steps.plan_code = thresholds.plan_code
        and not thresholds.is_recurring
        and thresholds.threshold_amount > lifetime_steps.lifetime_before
        and thresholds.threshold_amount <= lifetime_steps.lifetime_after
),

threshold_crossings as (
    select lifetime_steps.scope_key, lifetime_steps.step_number, lifetime_steps.billing_month
    from lifetime_steps
    left join fixed_passes
        on lifetime_steps.scope_key = fixed_passes.scope_key
        and lifetime_steps.step_number = fixed_passes.step_number
    where
        fixed_passes.step_number is not null
        or (
            lifetime_steps.lifetime_before < lifetime_steps.largest_fixed_amount
            and lifetime_steps.lifetime_after - lifetime_steps.largest_fixed_amount >= lifetime_steps.recurring_amount
        )
        or (
            lifetime_steps.lifetime_before >= lifetime_steps.largest_fixed_amount
            and floor({{ divide_exact('lifetime_steps.lifetime_after', 'lifetime_steps.recurring_amount') }})
            > floor({{ divide_exact('lifetime_steps.lifetime_before', 'lifetime_steps.recurring_amount') }})
        )
),

{# Every bucket of the period at its latest event up to the crossing. -#}
progressive_buckets as (
    select *
    from (
        select
            crossings.scope_key,
            crossings.step_number as crossing_step,
            crossings.billing_month as crossing_billing_month,
            crossing_event.transaction_id as crossing_transaction_id,
            crossing_event.event_at as crossed_at,
            bucket_steps.external_subscription_id,
            bucket_steps.requested_at,
            bucket_steps.plan_code,
            bucket_steps.charges_period_start,
            bucket_steps.charges_from_at,
            bucket_steps.charge_code,
            bucket_steps.filter_code,
            bucket_steps.pricing_group,
            bucket_steps.event_at,
            bucket_steps.bucket_units,
            bucket_steps.bucket_events_count,
            bucket_steps.bucket_amount,
            row_number() over (
                partition by
                    crossings.scope_key, crossings.step_number, bucket_steps.charge_code,
                    bucket_steps.filter_code, bucket_steps.pricing_group
                order by bucket_steps.step_number desc
            ) as recency_rank
        from threshold_crossings as crossings
        inner join threshold_steps as crossing_event
            on crossings.scope_key = crossing_event.scope_key
            and crossings.step_number = crossing_event.step_number
        inner join threshold_steps as bucket_steps
            on crossings.scope_key = bucket_steps.scope_key
            and bucket_steps.step_number <= crossings.step_number
        where crossings.billing_month >= {{ billing_period_start() }}
            and crossings.billing_month < {{ billing_period_end() }}
    ) as ranked
    where recency_rank = 1
),

progressive_lines as (
    select
        cast(null as varchar) as subscription_billing_id,
        {{ hash_key(['buckets.scope_key', 'buckets.crossing_transaction_id', "'progressive_billing'"]) }} as invoice_id,
        buckets.crossing_billing_month as billing_month,
        {{ utc_to_local_date('buckets.crossed_at', 'periods.timezone') }} as issuing_date,
        periods.external_customer_id,
        buckets.external_subscription_id,
        buckets.plan_code,
        periods.currency,
        'charge' as line_type,
        buckets.charge_code,
        charges.metric_code,
        nullif(buckets.filter_code, '') as filter_code,
        buckets.pricing_group,
        metrics.metric_name
        || case when buckets.filter_code <> '' then ' · ' || buckets.filter_code else '' end
        || coalesce(' · ' || buckets.pricing_group, '') as description,
        charges.tax_codes as charge_tax_codes,
        plans.tax_codes as plan_tax_codes,
        buckets.bucket_units as units,
        cast(buckets.bucket_events_count as bigint) as events_count,
        buckets.bucket_amount as precise_amount,
        buckets.charges_from_at as from_datetime,
        -- Usage up to the crossing event, which is included.
        buckets.crossed_at as to_datetime_exclusive,
        cast(null as timestamp) as first_event_at,
        buckets.event_at as last_event_at,
        cast(null as varchar) as transaction_id,
        periods.charges_period_start as invoice_period_start,
        periods.charges_period_end as invoice_period_end
    from progressive_buckets as buckets
    inner join (
        select distinct
            external_subscription_id, requested_at, charges_period_start, charges_period_end,
            external_customer_id, currency, timezone
        from {{ ref('int_subscription_charges_periods') }}
        where billing_month >= {{ billing_period_start() }} and billing_month < {{ billing_period_end() }}
    ) as periods
        on buckets.external_subscription_id = periods.external_subscription_id
        and buckets.requested_at = periods.requested_at
        and buckets.charges_period_start = periods.charges_period_start
    inner join charges
        on buckets.charge_code = charges.charge_code
        and buckets.charges_period_start >= charges.valid_from
        and buckets.charges_period_start < charges.valid_to
    inner join metrics
        on charges.metric_code = metrics.metric_code
        and buckets.charges_period_start >= metrics.valid_from
        and buckets.charges_period_start < metrics.valid_to
    inner join plans
        on buckets.plan_code = plans.plan_code
        and buckets.charges_period_start >= plans.valid_from
        and buckets.charges_period_start < plans.valid_to
    where not (buckets.bucket_units = 0 and buckets.bucket_amount = 0)
)

select * from progressive_lines
