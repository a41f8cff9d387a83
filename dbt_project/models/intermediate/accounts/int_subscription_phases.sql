{#-
    One row per billable subscription phase, its plan change resolved (docs/inputs.md, docs/rules.md §9):

    - phases of one external_subscription_id follow each other by requested start; a phase whose
      annualised plan amount (weekly x52, monthly x12, quarterly x4, semiannual x2, yearly x1) is at
      least the previous one's is an upgrade and starts at the requested instant; otherwise it is a
      downgrade and starts at the end of the previous phase's period that holds the request;
    - a phase ends when the next one starts (ended_by upgrade or downgrade) or at its own
      terminated_at (termination); an upgrade or a termination ends it at an instant
      (terminated_at), a downgrade at a period boundary (billed_through_on);
    - every phase keeps the first phase's anniversary (§8) and the trial that started with the
      first phase (trial_end_at, §9).
-#}
with

validated as (
    select
        *,
        {{ utc_to_local_date('subscription_at', 'timezone') }} as subscription_on,
        plan_amount * case plan_interval
            when 'weekly' then 52 when 'monthly' then 12 when 'quarterly' then 4
            when 'semiannual' then 2 when 'yearly' then 1
        end as annual_amount
    from {{ ref('int_subscriptions_validated') }}
    where rejection_reason is null
),

sequenced as (
    select
        validated.*,
        validated.started_at as requested_at,
        row_number() over phase_order as phase_number,
        first_value(validated.started_at) over phase_order as initial_started_at,
        first_value(validated.subscription_on) over phase_order as initial_subscription_on,
        lag(validated.annual_amount) over phase_order as previous_annual_amount,
        lag(validated.plan_interval) over phase_order as previous_plan_interval,
        lag(validated.billing_time) over phase_order as previous_billing_time
    from validated
    window phase_order as (partition by external_subscription_id order by started_at)
),

started as (
    select
        sequenced.*,
        case
            when sequenced.phase_number = 1 then 'creation'
            when sequenced.annual_amount >= sequenced.previous_annual_amount then 'upgrade'
            else 'downgrade'
        end as started_by,
        {{ period_anchor('billing_time', 'initial_subscription_on') }} as anchor_on,
        {{ period_anchor('previous_billing_time', 'initial_subscription_on') }} as previous_anchor_on
    from sequenced
),

effective as (
    select
        started.*,
        case
            when started.started_by = 'downgrade' then {{ local_midnight_to_utc(add_days(period_end(
                'previous_plan_interval', 'previous_anchor_on',
                period_start('previous_plan_interval', 'previous_anchor_on', 'started_on')), 1), 'timezone') }}
            else started.requested_at
        end as effective_started_at
    from started
),

ended as (
    select
        effective.*,
        lead(effective.effective_started_at) over phase_order as next_started_at,
        lead(effective.started_by) over phase_order as next_started_by,
        lead(effective.requested_at) over phase_order as next_requested_at,
        lead(effective.plan_code) over phase_order as next_plan_code
    from effective
    window phase_order as (partition by external_subscription_id order by requested_at)
),

resolved as (
    select
        ended.*,
        case
            -- A termination before the next phase was asked for ends the phase first; one set
            -- at or after the request only closes the phase the change replaces.
            when ended.terminated_at is not null
                and (ended.next_requested_at is null or ended.terminated_at < ended.next_requested_at)
                then 'termination'
            else ended.next_started_by
        end as ended_by,
        case
            when ended.terminated_at is not null
                and (ended.next_requested_at is null or ended.terminated_at < ended.next_requested_at)
                then ended.terminated_at
            else ended.next_started_at
        end as ended_at
    from ended
)

select
    external_subscription_id,
    requested_at,
    phase_number,
    external_customer_id,
    plan_code,
    currency,
    timezone,
    billing_time,
    plan_interval,
    case when bills_charges_monthly then 'monthly' else plan_interval end as charges_interval,
    anchor_on,
    is_pay_in_advance,
    bills_charges_monthly,
    started_by,
    effective_started_at as started_at,
    {{ utc_to_local_date('effective_started_at', 'timezone') }} as started_on,
    initial_started_at,
    case when trial_days > 0 then {{ add_days_to_instant('initial_started_at', 'trial_days') }} end
        as trial_end_at,
    case when trial_days > 0
            then {{ utc_to_local_date(add_days_to_instant('initial_started_at', 'trial_days'), 'timezone') }}
    end as trial_end_on,
    ended_by,
    ended_at,
    case when ended_by in ('upgrade', 'downgrade') then next_plan_code end as next_plan_code,
    -- Ended at an instant: the termination billing closes the last stretch.
    case when ended_by in ('termination', 'upgrade') then ended_at end as terminated_at,
    case when ended_by in ('termination', 'upgrade')
            then {{ utc_to_local_date('ended_at', 'timezone') }}
    end as terminated_on,
    -- The last day a period-end billing may close: the day before an instant end, or the last day
    -- of the period before a downgrade.
    case when ended_at is not null then {{ add_days(utc_to_local_date('ended_at', 'timezone'), -1) }} end
        as billed_through_on
from resolved
-- A phase that a termination ended before it began is never billed; one terminated at the
-- instant it started has that instant, and so its day, served (docs/rules.md §8).
where ended_at is null or ended_at > effective_started_at
    or (ended_by = 'termination' and ended_at = effective_started_at)
