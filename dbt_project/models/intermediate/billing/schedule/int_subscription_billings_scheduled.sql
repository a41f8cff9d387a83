{#-
    One row per subscription phase and billing event whose invoice belongs to the close window
    (docs/conventions.md; docs/rules.md §8, §9):

    - period_end: a charges period ends (local date) inside the window; the invoice is issued the
      next day with those charges, the in-arrears fee of a plan period ending that day, and the
      in-advance fee of the plan period starting the next day (unless a trial still runs then);
    - subscription_start: a pay-in-advance phase without a running trial starts; its first fee is
      billed at once;
    - trial_end: a pay-in-advance trial ends inside a plan period; the rest of it is billed then
      (§9 free trial, §18.13);
    - termination: the phase ends at an instant (terminated, or upgraded away); charges up to that
      instant and, in arrears, the fee pro rata to the termination day (the day before, for an
      upgrade: §18.5).

    Which invoice (docs/conventions.md): period-end billings of a customer, currency and day share one;
    the two sides of a plan change share one (a downgrade's first in-advance fee joins the old
    phase's period-end invoice, an upgrade's the old phase's termination invoice); the other
    instant billings have their own.

    Periods are local calendar dates in the customer's timezone; charge windows are UTC instants,
    half-open [charges_from_at, charges_to_at).
-#}
with

with_phases as (
    select * from {{ ref('int_subscription_billings_scheduled__billings') }}
),

with_fee_periods as (
    select
        with_phases.*,
        -- The plan period whose fee this billing carries, if any (docs/rules.md §8 invoice timing).
        case
            when with_phases.billing_trigger = 'subscription_start'
                then {{ period_start('plan_interval', 'anchor_on', 'started_on') }}
            when with_phases.billing_trigger = 'trial_end'
                then {{ period_start('plan_interval', 'anchor_on', 'trial_end_on') }}
            when with_phases.billing_trigger = 'termination' and not with_phases.is_pay_in_advance
                then {{ period_start('plan_interval', 'anchor_on', 'terminated_on') }}
            when with_phases.billing_trigger = 'period_end' and not with_phases.is_pay_in_advance
                and {{ period_end(
                    'plan_interval', 'anchor_on', period_start('plan_interval', 'anchor_on', 'billing_day')
                ) }}
                = with_phases.billing_day
                then {{ period_start('plan_interval', 'anchor_on', 'billing_day') }}
            when with_phases.billing_trigger = 'period_end' and with_phases.is_pay_in_advance
                and {{ period_start('plan_interval', 'anchor_on', add_days('billing_day', 1)) }}
                = {{ add_days('billing_day', 1) }}
                -- The phase is still on at the next period's first instant, its trial over by then.
                and (
                    with_phases.ended_at is null
                    or with_phases.ended_at > {{ local_midnight_to_utc(add_days('billing_day', 1), 'timezone') }}
                )
                and (
                    with_phases.trial_end_at is null
                    or with_phases.trial_end_at <= {{ local_midnight_to_utc(add_days('billing_day', 1), 'timezone') }}
                )
                then {{ add_days('billing_day', 1) }}
        end as fee_period_start
    from with_phases
),

with_fee_days as (
    select
        with_fee_periods.*,
        {{ period_end('plan_interval', 'anchor_on', 'fee_period_start') }} as fee_period_end,
        -- The first day billed: a late start or a trial's end counts its day in full (§8).
        greatest(
            with_fee_periods.fee_period_start,
            with_fee_periods.started_on,
            coalesce(with_fee_periods.trial_end_on, with_fee_periods.fee_period_start)
        ) as fee_from_on
    from with_fee_periods
),

scheduled as (
    select
        {{ hash_key(['external_subscription_id', 'requested_at', 'billing_trigger', 'issuing_date']) }}
            as subscription_billing_id,
        {{ hash_key([
            'external_customer_id', 'currency', 'issuing_date',
            "case when billing_trigger = 'period_end' "
            ~ "or (billing_trigger = 'subscription_start' and started_by = 'downgrade') then 'period_end' "
            ~ "when (billing_trigger = 'termination' and ended_by = 'upgrade') "
            ~ "or (billing_trigger = 'subscription_start' and started_by = 'upgrade') "
            ~ "then 'plan_change:' || external_subscription_id "
            ~ "else billing_trigger || ':' || external_subscription_id end",
        ]) }} as invoice_id,
        external_subscription_id,
        requested_at,
        external_customer_id,
        plan_code,
        currency,
        timezone,
        plan_interval,
        billing_trigger,
        charges_interval,
        anchor_on,
        is_pay_in_advance,
        charges_period_start,
        charges_period_end,
        -- Full length of the charges period, the divisor of time-weighted metrics (§2).
        {{ days_between('charges_period_start', 'charges_period_end') }} + 1 as charges_period_days,
        fee_period_start,
        fee_period_end,
        {{ days_between('fee_period_start', 'fee_period_end') }} + 1 as fee_period_days,
        fee_from_on,
        -- Days billed (§9): to the period end, or to the termination day, whose day goes to the
        -- new plan on an upgrade (§18.5); an anniversary in-advance plan's first fee is whole.
        case
            when fee_period_start is null then null
            when billing_trigger = 'subscription_start' and started_by = 'creation' and billing_time = 'anniversary'
                then {{ days_between('fee_period_start', 'fee_period_end') }} + 1
            else greatest(0, {{ days_between(
                'fee_from_on',
                "case when billing_trigger = 'termination' then terminated_on else fee_period_end end"
            ) }} + 1 - case when billing_trigger = 'termination' and ended_by = 'upgrade' then 1 else 0 end)
        end as fee_billed_days,
        issuing_date,
        started_by,
        started_on,
        trial_end_on,
        ended_by,
        next_plan_code,
        terminated_on,
        -- docs/conventions.md: the close month holding the period end, or the instant of issue.
        {{ trunc_date('month', 'billing_day') }} as billing_month,
        charges_from_at,
        charges_to_at,
        is_end_served,
        -- The charges window's first and last local days, both inclusive, for day-weighted
        -- proration (§2.1, §5); an upgrade counts one day less (§18.5).
        {{ utc_to_local_date('charges_from_at', 'timezone') }} as charges_from_date,
        case
            when charges_from_at is null then null
            when billing_trigger = 'termination' and ended_by = 'upgrade' then {{ add_days('terminated_on', -1) }}
            when billing_trigger = 'termination' then terminated_on
            else charges_period_end
        end as charges_to_date,
        started_at,
        ended_at,
        terminated_at
    from with_fee_days
)

select * from scheduled
