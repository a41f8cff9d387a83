{#-
    One row per subscription and billing event whose invoice belongs to the close window
    (CONTRACT §2, §7; rule book §8, §9):

    - period_end: a charges period ends (local date) inside the window; the invoice is issued the
      next day with those charges, the in-arrears fee of a plan period ending that day, and the
      in-advance fee of the plan period starting the next day;
    - subscription_start: a pay-in-advance subscription starts; its prorated first fee is billed
      at once;
    - termination: the subscription ends; charges up to that instant and, in arrears, the fee
      pro rata to the termination day.

    Periods are local calendar dates in the customer's timezone; charge windows are UTC instants,
    half-open [charges_from_at, charges_to_at).
-#}
with

subscriptions as (
    select
        external_subscription_id,
        external_customer_id,
        plan_code,
        currency,
        timezone,
        plan_interval,
        is_pay_in_advance,
        bills_charges_monthly,
        started_at,
        terminated_at,
        started_on,
        terminated_on,
        case when bills_charges_monthly then 'monthly' else plan_interval end as charges_interval
    from {{ ref('int_subscriptions_validated') }}
    where
        rejection_reason is null
        and started_on < {{ billing_period_end() }}
        and (terminated_on is null or terminated_on >= {{ billing_period_start() }})
),

close_months as (
    select month_start
    from {{ ref('int_calendar_months') }}
    where month_start >= {{ billing_period_start() }} and month_start < {{ billing_period_end() }}
),

{#- Every period of a week or longer that ends in a month contains one of these days of it. -#}
probe_days as (
    select {{ add_days('close_months.month_start', 'offsets.day_offset') }} as probe_day
    from close_months
    cross join (
        select 0 as day_offset union all select 7 union all select 14
        union all select 21 union all select 28
    ) as offsets
    where {{ add_days('close_months.month_start', 'offsets.day_offset') }}
        < {{ add_months('close_months.month_start', 1) }}
),

charges_periods as (
    select distinct
        subscriptions.external_subscription_id,
        subscriptions.started_at,
        {{ calendar_period_start('subscriptions.charges_interval', 'probe_days.probe_day') }}
            as charges_period_start
    from subscriptions
    cross join probe_days
),

charges_periods_bounded as (
    select
        charges_periods.external_subscription_id,
        charges_periods.started_at,
        charges_periods.charges_period_start,
        {{ calendar_period_end('subscriptions.charges_interval', 'charges_periods.charges_period_start') }}
            as charges_period_end
    from charges_periods
    inner join subscriptions
        on charges_periods.external_subscription_id = subscriptions.external_subscription_id
        and charges_periods.started_at = subscriptions.started_at
),

period_end_billings as (
    select
        subscriptions.*,
        'period_end' as billing_trigger,
        bounded.charges_period_start,
        bounded.charges_period_end,
        {{ add_days('bounded.charges_period_end', 1) }} as issuing_date,
        bounded.charges_period_end as billing_day
    from charges_periods_bounded as bounded
    inner join subscriptions
        on bounded.external_subscription_id = subscriptions.external_subscription_id
        and bounded.started_at = subscriptions.started_at
    where
        bounded.charges_period_end >= {{ billing_period_start() }}
        and bounded.charges_period_end < {{ billing_period_end() }}
        and subscriptions.started_on <= bounded.charges_period_end
        -- Ended on or before that day: the termination invoice bills the last stretch instead.
        and (subscriptions.terminated_on is null
             or subscriptions.terminated_on > bounded.charges_period_end)
),

termination_billings as (
    select
        subscriptions.*,
        'termination' as billing_trigger,
        {{ calendar_period_start('subscriptions.charges_interval', 'subscriptions.terminated_on') }}
            as charges_period_start,
        {{ calendar_period_end('subscriptions.charges_interval',
            calendar_period_start('subscriptions.charges_interval', 'subscriptions.terminated_on')) }}
            as charges_period_end,
        subscriptions.terminated_on as issuing_date,
        subscriptions.terminated_on as billing_day
    from subscriptions
    where
        subscriptions.terminated_on >= {{ billing_period_start() }}
        and subscriptions.terminated_on < {{ billing_period_end() }}
),

start_billings as (
    select
        subscriptions.*,
        'subscription_start' as billing_trigger,
        cast(null as date) as charges_period_start,
        cast(null as date) as charges_period_end,
        subscriptions.started_on as issuing_date,
        subscriptions.started_on as billing_day
    from subscriptions
    where
        subscriptions.is_pay_in_advance
        and subscriptions.started_on >= {{ billing_period_start() }}
        and subscriptions.started_on < {{ billing_period_end() }}
),

billings as (
    select * from period_end_billings
    union all
    select * from termination_billings
    union all
    select * from start_billings
),

with_fee_periods as (
    select
        billings.*,
        -- The plan period the fee of this billing covers, if any (rule book §8 invoice timing).
        case
            when billing_trigger = 'subscription_start'
                then {{ calendar_period_start('plan_interval', 'started_on') }}
            when billing_trigger = 'termination' and not is_pay_in_advance
                then {{ calendar_period_start('plan_interval', 'terminated_on') }}
            when billing_trigger = 'period_end' and not is_pay_in_advance
                and {{ calendar_period_end('plan_interval', calendar_period_start('plan_interval', 'billing_day')) }} = billing_day
                then {{ calendar_period_start('plan_interval', 'billing_day') }}
            when billing_trigger = 'period_end' and is_pay_in_advance
                and {{ calendar_period_start('plan_interval', add_days('billing_day', 1)) }} = {{ add_days('billing_day', 1) }}
                then {{ add_days('billing_day', 1) }}
        end as fee_period_start
    from billings
),

scheduled as (
    select
        {{ hash_key(['external_subscription_id', 'started_at', 'billing_trigger', 'issuing_date']) }}
            as subscription_billing_id,
        {{ hash_key([
            'external_customer_id', 'currency', 'issuing_date',
            "case when billing_trigger = 'period_end' then 'period_end' "
            ~ "else billing_trigger || ':' || external_subscription_id end",
        ]) }} as invoice_id,
        external_subscription_id,
        external_customer_id,
        plan_code,
        currency,
        timezone,
        plan_interval,
        billing_trigger,
        charges_interval,
        is_pay_in_advance,
        charges_period_start,
        charges_period_end,
        -- Full length of the charges period, the divisor of time-weighted metrics (§2).
        {{ days_between('charges_period_start', 'charges_period_end') }} + 1 as charges_period_days,
        fee_period_start,
        {{ calendar_period_end('plan_interval', 'fee_period_start') }} as fee_period_end,
        {{ days_between('fee_period_start', calendar_period_end('plan_interval', 'fee_period_start')) }} + 1
            as fee_period_days,
        -- Days billed: from the start day (a late start counts its first day in full) to the
        -- period end, or to the termination day (rule book §8 day counting, §9 proration).
        case when fee_period_start is not null then
            {{ days_between(
                "greatest(fee_period_start, started_on)",
                "case when billing_trigger = 'termination' then terminated_on else "
                ~ calendar_period_end('plan_interval', 'fee_period_start') ~ " end"
            ) }} + 1
        end as fee_billed_days,
        issuing_date,
        started_on,
        terminated_on,
        -- CONTRACT §2: the close month holding the period end, or the instant of issue.
        {{ trunc_date('month', 'billing_day') }} as billing_month,
        case when charges_period_start is not null then
            greatest({{ local_midnight_to_utc('charges_period_start', 'timezone') }}, started_at)
        end as charges_from_at,
        case
            when billing_trigger = 'termination' then terminated_at
            when charges_period_end is not null
                then {{ local_midnight_to_utc(add_days('charges_period_end', 1), 'timezone') }}
        end as charges_to_at,
        started_at,
        terminated_at
    from with_fee_periods
)

select * from scheduled
