{#-
    The items of credit notes issued by terminations and upgrades (docs/rules.md §9 Termination,
    §16): a pay-in-advance phase that ends at an instant gets back the unused days of the
    subscription fee it paid for the period holding that instant: plan amount / period days x
    (period end - termination day), one day more for an upgrade, whose termination day goes to
    the new plan (§18.5); rounded to the currency, and never more than the fee itself. A fee not
    yet billed (a trial still running) has nothing to credit. int_credit_note_items_drafted adds
    the coupon adjustment and taxes, as for every note.
-#}
with

terminations as (
    select *
    from {{ ref('int_subscription_billings_scheduled') }}
    where
        billing_trigger = 'termination'
        and is_pay_in_advance
        and billing_month >= {{ billing_period_start() }} and billing_month < {{ billing_period_end() }}
),

fee_lines as (
    select
        invoice_line_id, invoice_id, external_subscription_id, plan_code, currency, amount,
        from_datetime, to_datetime_exclusive
    from {{ ref('int_invoice_lines_taxed') }}
    where line_type = 'subscription'
),

plans as (
    select plan_code, amount, valid_from, valid_to from {{ ref('stg_catalog__plans') }}
),

currencies as (
    select currency, exponent from {{ ref('stg_reference__currencies') }}
),

credited_periods as (
    select
        terminations.*,
        {{ period_start('terminations.plan_interval', 'terminations.anchor_on', 'terminations.terminated_on') }}
            as credited_period_start,
        {{ period_end('terminations.plan_interval', 'terminations.anchor_on',
            period_start('terminations.plan_interval', 'terminations.anchor_on', 'terminations.terminated_on')) }}
            as credited_period_end
    from terminations
),

item_operands as (
    select
        credited_periods.subscription_billing_id,
        credited_periods.external_customer_id,
        credited_periods.external_subscription_id,
        credited_periods.ended_by,
        credited_periods.terminated_on,
        credited_periods.terminated_at,
        credited_periods.billing_month,
        credited_periods.credited_period_start,
        credited_periods.credited_period_end,
        fee_lines.invoice_id,
        fee_lines.invoice_line_id,
        fee_lines.currency,
        fee_lines.amount as fee_amount,
        currencies.exponent,
        plans.amount * (
            {{ days_between('credited_periods.terminated_on', 'credited_periods.credited_period_end') }}
            + case when credited_periods.ended_by = 'upgrade' then 1 else 0 end
        ) as credited_numerator,
        {{ days_between('credited_periods.credited_period_start', 'credited_periods.credited_period_end') }} + 1
            as credited_days
    from credited_periods
    inner join fee_lines
        on credited_periods.external_subscription_id = fee_lines.external_subscription_id
        and credited_periods.plan_code = fee_lines.plan_code
        and fee_lines.from_datetime <= credited_periods.terminated_at
        and fee_lines.to_datetime_exclusive > credited_periods.terminated_at
    inner join plans
        on credited_periods.plan_code = plans.plan_code
        and credited_periods.credited_period_start >= plans.valid_from
        and credited_periods.credited_period_start < plans.valid_to
    inner join currencies on fee_lines.currency = currencies.currency
),

{# The share of the plan amount as a column before it is rounded (nested exact macros get
    column operands, macros/money.sql). -#}
items as (
    select
        subscription_billing_id,
        external_customer_id,
        external_subscription_id,
        ended_by,
        terminated_on,
        terminated_at,
        billing_month,
        credited_period_start,
        credited_period_end,
        invoice_id,
        invoice_line_id,
        currency,
        fee_amount,
        exponent,
        least(fee_amount, {{ round_to_exponent('credited_share', 'exponent') }}) as item_amount
    from (
        select *, {{ divide_exact('credited_numerator', 'credited_days') }} as credited_share
        from item_operands
    ) as item_shares
),

notes as (
    select * from items
    where item_amount > 0
)

select
    {{ hash_key(['subscription_billing_id', "'credit_note'"]) }} as credit_note_id,
    invoice_id,
    invoice_line_id,
    external_customer_id,
    external_subscription_id,
    case when ended_by = 'upgrade' then 'upgrade' else 'termination' end as reason,
    'Unused days ' || cast(
        case when ended_by = 'upgrade' then terminated_on else {{ add_days('terminated_on', 1) }} end as varchar
    ) || ' to ' || cast(credited_period_end as varchar) as description,
    terminated_on as issuing_date,
    terminated_at as created_at,
    billing_month,
    currency,
    {{ as_money('item_amount') }} as item_amount
from notes
