{#-
    Every charges period (docs/rules.md §8) of every subscription phase that overlaps a close month of
    the window, one row per phase, period and close month, with the phase's charges window inside
    it: from the period's local midnight or the phase's exact start, to the next period's local
    midnight or the phase's exact end (UTC instants, half-open; a window that ends at a termination
    includes that instant: `is_end_served`, macros/periods.sql).

    A period of 7 days or more that overlaps a month holds one of its days 1, 8, 15, 22, 29 (when
    it ends inside the month) or its last day (when it does not): those are the probes.
-#}
with

phases as (
    select *
    from {{ ref('int_subscription_phases') }}
    where
        started_on < {{ billing_period_end() }}
        and (ended_at is null or {{ utc_to_local_date('ended_at', 'timezone') }} >= {{ billing_period_start() }})
),

close_months as (
    select month_start
    from {{ ref('int_calendar_months') }}
    where month_start >= {{ billing_period_start() }} and month_start < {{ billing_period_end() }}
),

probe_days as (
    select
        close_months.month_start as billing_month,
        case when offsets.day_offset < 0 then {{ add_days(add_months('close_months.month_start', 1), -1) }}
            else {{ add_days('close_months.month_start', 'offsets.day_offset') }}
        end as probe_day
    from close_months
    cross join (
        select 0 as day_offset
        union all
        select 7
        union all
        select 14
        union all
        select 21
        union all
        select 28
        union all
        select -1
    ) as offsets
    where {{ add_days('close_months.month_start', 'offsets.day_offset') }}
        < {{ add_months('close_months.month_start', 1) }}
),

periods as (
    select distinct
        probe_days.billing_month,
        phases.external_subscription_id,
        phases.requested_at,
        {{ period_start('phases.charges_interval', 'phases.anchor_on', 'probe_days.probe_day') }}
            as charges_period_start
    from phases
    cross join probe_days
),

bounded as (
    select
        periods.billing_month,
        phases.*,
        periods.charges_period_start,
        {{ period_end('phases.charges_interval', 'phases.anchor_on', 'periods.charges_period_start') }}
            as charges_period_end
    from periods
    inner join phases
        on periods.external_subscription_id = phases.external_subscription_id
        and periods.requested_at = phases.requested_at
),

windows as (
    select
        bounded.*,
        -- Full length of the period, the divisor of time-weighted metrics and proration (§2, §18.6).
        {{ days_between('charges_period_start', 'charges_period_end') }} + 1 as charges_period_days,
        greatest({{ local_midnight_to_utc('charges_period_start', 'timezone') }}, bounded.started_at)
            as charges_from_at,
        case
            when bounded.ended_at is not null
                and bounded.ended_at < {{ local_midnight_to_utc(add_days('charges_period_end', 1), 'timezone') }}
                then bounded.ended_at
            else {{ local_midnight_to_utc(add_days('charges_period_end', 1), 'timezone') }}
        end as charges_to_at,
        coalesce(
            ended_by = 'termination'
            and bounded.ended_at < {{ local_midnight_to_utc(add_days('charges_period_end', 1), 'timezone') }},
            false
        ) as is_end_served
    from bounded
)

select
    {{ hash_key(['external_subscription_id', 'requested_at', 'charges_period_start']) }} as charges_period_id,
    billing_month,
    external_subscription_id,
    requested_at,
    external_customer_id,
    plan_code,
    currency,
    timezone,
    plan_interval,
    charges_interval,
    anchor_on,
    is_pay_in_advance,
    started_by,
    started_at,
    started_on,
    trial_end_at,
    trial_end_on,
    ended_by,
    terminated_at,
    terminated_on,
    billed_through_on,
    charges_period_start,
    charges_period_end,
    charges_period_days,
    charges_from_at,
    charges_to_at,
    is_end_served
from windows
where {{ window_is_open('charges_from_at', 'charges_to_at', 'is_end_served') }}
