{{ config(materialized='ephemeral') }}

{#
    The billing events of the close window, one row per subscription phase and billing event
    (docs/rules.md §8, §9): a charges period ending (period_end), an instant end (termination),
    a pay-in-advance start (subscription_start) and a pay-in-advance trial's end (trial_end),
    each with the columns of its phase. int_subscription_billings_scheduled, which this is
    compiled into, gives each the plan period whose fee it bills and its invoice.
-#}
with

periods as (
    select *
    from {{ ref('int_subscription_charges_periods') }}
    where billing_month >= {{ billing_period_start() }} and billing_month < {{ billing_period_end() }}
),

phases as (
    select *
    from {{ ref('int_subscription_phases') }}
    where
        started_on < {{ billing_period_end() }}
        and (ended_at is null or {{ utc_to_local_date('ended_at', 'timezone') }} >= {{ billing_period_start() }})
),

period_end_billings as (
    select
        external_subscription_id,
        requested_at,
        'period_end' as billing_trigger,
        charges_period_start,
        charges_period_end,
        charges_from_at,
        charges_to_at,
        is_end_served,
        {{ add_days('charges_period_end', 1) }} as issuing_date,
        charges_period_end as billing_day
    from periods
    where
        -- The row of the month that holds the period end (a period overlaps up to two months).
        billing_month = {{ trunc_date('month', 'charges_period_end') }}
        -- An instant end bills its last stretch in a termination billing instead.
        and (billed_through_on is null or charges_period_end <= billed_through_on)
),

termination_billings as (
    select
        external_subscription_id,
        requested_at,
        'termination' as billing_trigger,
        {{ period_start('charges_interval', 'anchor_on', 'terminated_on') }} as charges_period_start,
        {{ period_end(
            'charges_interval', 'anchor_on', period_start('charges_interval', 'anchor_on', 'terminated_on')
        ) }}
            as charges_period_end,
        greatest(
            {{ local_midnight_to_utc(period_start('charges_interval', 'anchor_on', 'terminated_on'), 'timezone') }},
            started_at
        ) as charges_from_at,
        terminated_at as charges_to_at,
        -- A termination's instant is served (§8); an upgrade's belongs to the new plan.
        ended_by = 'termination' as is_end_served,
        terminated_on as issuing_date,
        terminated_on as billing_day
    from phases
    where terminated_on >= {{ billing_period_start() }} and terminated_on < {{ billing_period_end() }}
),

start_billings as (
    select
        external_subscription_id,
        requested_at,
        'subscription_start' as billing_trigger,
        cast(null as date) as charges_period_start,
        cast(null as date) as charges_period_end,
        cast(null as timestamp) as charges_from_at,
        cast(null as timestamp) as charges_to_at,
        false as is_end_served,
        started_on as issuing_date,
        started_on as billing_day
    from phases
    where
        is_pay_in_advance
        -- A trial defers the first in-advance invoice to its end (§18.13).
        and (trial_end_at is null or trial_end_at <= started_at)
        and started_on >= {{ billing_period_start() }}
        and started_on < {{ billing_period_end() }}
),

trial_end_billings as (
    select
        external_subscription_id,
        requested_at,
        'trial_end' as billing_trigger,
        cast(null as date) as charges_period_start,
        cast(null as date) as charges_period_end,
        cast(null as timestamp) as charges_from_at,
        cast(null as timestamp) as charges_to_at,
        false as is_end_served,
        trial_end_on as issuing_date,
        trial_end_on as billing_day
    from phases
    where
        is_pay_in_advance
        and trial_end_at > started_at
        and (ended_at is null or trial_end_at < ended_at)
        -- A trial ending at a period's first instant leaves that fee to the period-end invoice.
        and trial_end_at
        > {{ local_midnight_to_utc(period_start('plan_interval', 'anchor_on', 'trial_end_on'), 'timezone') }}
        and trial_end_on >= {{ billing_period_start() }}
        and trial_end_on < {{ billing_period_end() }}
),

billings as (
    select * from period_end_billings
    union all
    select * from termination_billings
    union all
    select * from start_billings
    union all
    select * from trial_end_billings
),

with_phases as (
    select
        billings.*,
        phases.external_customer_id,
        phases.plan_code,
        phases.currency,
        phases.timezone,
        phases.billing_time,
        phases.plan_interval,
        phases.charges_interval,
        phases.anchor_on,
        phases.is_pay_in_advance,
        phases.started_by,
        phases.started_at,
        phases.started_on,
        phases.trial_end_at,
        phases.trial_end_on,
        phases.ended_by,
        phases.ended_at,
        phases.next_plan_code,
        phases.terminated_at,
        phases.terminated_on,
        phases.billed_through_on
    from billings
    inner join phases
        on billings.external_subscription_id = phases.external_subscription_id
        and billings.requested_at = phases.requested_at
)

select * from with_phases
