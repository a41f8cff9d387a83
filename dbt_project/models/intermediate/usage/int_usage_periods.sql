{{ config(tags=['usage']) }}
{#
    The charges period that holds the usage instant (docs/current-usage.md), for every subscription
    phase active at that instant (started, not ended): the same columns as the close's
    int_subscription_charges_periods, so the close's rating macros read it unchanged. The window
    runs from the period's local midnight or the phase's exact start (a mid-day start excludes the
    day's earlier events) to the next period's local midnight; events after the instant are left
    out by the rating macros themselves.
-#}
with

instant as (
    select as_of_at from {{ ref('int_usage_instant') }}
),

phases as (
    select phases.*, instant.as_of_at, {{ utc_to_local_date('instant.as_of_at', 'phases.timezone') }} as as_of_on
    from {{ ref('int_subscription_phases') }} as phases
    cross join instant
    where phases.started_at <= instant.as_of_at
        and (phases.ended_at is null or phases.ended_at > instant.as_of_at)
),

bounded as (
    select
        *,
        {{ period_start('charges_interval', 'anchor_on', 'as_of_on') }} as charges_period_start
    from phases
),

ended as (
    select
        *,
        {{ period_end('charges_interval', 'anchor_on', 'charges_period_start') }} as charges_period_end
    from bounded
),

windows as (
    select
        ended.*,
        {{ days_between('charges_period_start', 'charges_period_end') }} + 1 as charges_period_days,
        greatest({{ local_midnight_to_utc('charges_period_start', 'timezone') }}, ended.started_at) as charges_from_at,
        {{ local_midnight_to_utc(add_days('charges_period_end', 1), 'timezone') }} as charges_to_at
    from ended
)

select
    {{ hash_key(['external_subscription_id', 'requested_at', 'charges_period_start']) }} as charges_period_id,
    {{ trunc_date('month', 'as_of_on') }} as billing_month,
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
    false as is_end_served,
    as_of_at,
    as_of_on
from windows
