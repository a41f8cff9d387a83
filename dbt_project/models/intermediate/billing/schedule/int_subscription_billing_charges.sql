{#-
    The charges each scheduled billing of the close window prices in arrears, with their metric,
    both as in force at the start of the period they bill (docs/inputs.md): every in-arrears
    charge, in the versions of the ending charges period, and the recurring pay-in-advance
    charges, whose full units each period-end billing bills again for the period that starts on
    its issuing day (docs/rules.md §7): that fee's window is the new period
    (`is_billing_day_fee`), its versions those in force on the new period's first day, its units
    those carried into it, and it is billed only when the phase is still on at the new period's
    first instant, or ends there by a downgrade (§9: the old plan bills it once more). Other
    pay-in-advance charges are priced per event (int_pay_in_advance_fees_priced).
-#}
{%- set version_day = "case when charges.is_pay_in_advance then billings.next_period_start"
    ~ " else billings.charges_period_start end" -%}

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
        charges_interval,
        anchor_on,
        charges_from_at,
        charges_to_at,
        is_end_served,
        charges_from_date,
        charges_to_date,
        ended_by,
        ended_at,
        next_plan_code,
        -- The period that starts on a period-end billing's issuing day (§7 billing-day fees).
        {{ add_days('charges_period_end', 1) }} as next_period_start,
        {{ local_midnight_to_utc(add_days('charges_period_end', 1), 'timezone') }} as next_period_from_at,
        {{ local_midnight_to_utc(add_days(
            period_end('charges_interval', 'anchor_on', add_days('charges_period_end', 1)), 1), 'timezone') }}
            as next_period_to_at
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
),

plan_metrics as (
    select distinct plan_code, metric_code from {{ ref('stg_catalog__charges') }}
)

select
    billings.subscription_billing_id,
    billings.billing_month,
    billings.billing_trigger,
    billings.external_subscription_id,
    billings.timezone,
    -- The day whose versions price the line: a billing-day fee's is the new period's first day.
    case when charges.is_pay_in_advance then billings.next_period_start
        else billings.charges_period_start
    end as charges_period_start,
    billings.charges_period_days,
    case when charges.is_pay_in_advance then billings.next_period_from_at
        else billings.charges_from_at
    end as charges_from_at,
    case when charges.is_pay_in_advance then billings.next_period_to_at
        else billings.charges_to_at
    end as charges_to_at,
    billings.is_end_served and not charges.is_pay_in_advance as is_end_served,
    charges.is_pay_in_advance as is_billing_day_fee,
    billings.charges_from_date,
    billings.charges_to_date,
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
    and {{ version_day }} >= charges.valid_from
    and {{ version_day }} < charges.valid_to
inner join metrics
    on charges.metric_code = metrics.metric_code
    and {{ version_day }} >= metrics.valid_from
    and {{ version_day }} < metrics.valid_to
left join plan_metrics as next_plan_metrics
    on billings.next_plan_code = next_plan_metrics.plan_code
    and charges.metric_code = next_plan_metrics.metric_code
where
    (
        not charges.is_pay_in_advance
        or (
            metrics.is_recurring and billings.billing_trigger = 'period_end'
            and (
                billings.ended_at is null or billings.ended_at > billings.next_period_from_at
                or billings.ended_by = 'downgrade'
            )
            -- A charge that turns pay-in-advance at the boundary: the ending period's in-arrears
            -- line bills it; its first billing-day fee comes with the next period end.
            and not exists (
                select 1
                from charges as ending
                where ending.charge_code = charges.charge_code
                    and not ending.is_pay_in_advance
                    and billings.charges_period_start >= ending.valid_from
                    and billings.charges_period_start < ending.valid_to
            )
        )
    )
    -- §9: at an upgrade, a recurring, non-prorated charge whose metric the new plan also charges
    -- carries over to the new plan instead of being billed on the old one.
    and not (
        billings.billing_trigger = 'termination' and billings.ended_by = 'upgrade'
        and metrics.is_recurring and not charges.is_prorated
        and next_plan_metrics.metric_code is not null
    )
