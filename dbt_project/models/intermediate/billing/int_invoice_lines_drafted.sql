{#-
    Invoice lines (Lago's fees) of the close window: subscription fees (rule book §9), charge
    fees per bucket (§4, §1.10, §1.11) and spending-minimum true-ups (§5), each rounded once to
    its currency's exponent, with the taxes that apply to it (§11 precedence: charge, then plan,
    then customer, then the billing entity's defaults).
-#}
with

billings as (
    select
        *,
        -- CONTRACT §7: the bounds of the period the invoice closes.
        coalesce(charges_period_start, fee_period_start) as invoice_period_start,
        case
            when billing_trigger = 'termination' then terminated_on
            else coalesce(charges_period_end, fee_period_end)
        end as invoice_period_end
    from {{ ref('int_subscription_billings_scheduled') }}
    where billing_month >= {{ billing_period_start() }} and billing_month < {{ billing_period_end() }}
),

priced_charges as (
    select *
    from {{ ref('int_charges_priced') }}
    where billing_month >= {{ billing_period_start() }} and billing_month < {{ billing_period_end() }}
),

pay_in_advance_fees as (
    select *
    from {{ ref('int_pay_in_advance_fees_priced') }}
    where billing_month >= {{ billing_period_start() }} and billing_month < {{ billing_period_end() }}
),

plans as (
    select plan_code, plan_name, amount, tax_codes, valid_from, valid_to
    from {{ ref('stg_catalog__plans') }}
),

charges as (
    select charge_code, plan_code, metric_code, tax_codes, min_amount, is_pay_in_advance, valid_from, valid_to
    from {{ ref('stg_catalog__charges') }}
),

metrics as (
    select metric_code, metric_name, valid_from, valid_to
    from {{ ref('stg_catalog__billable_metrics') }}
),

customers as (
    select external_customer_id, tax_codes
    from {{ ref('int_customers_deduplicated') }}
),

currencies as (
    select currency, exponent from {{ ref('stg_reference__currencies') }}
),

default_taxes as (
    select {{ string_agg_sorted('tax_code', "'|'") }} as tax_codes
    from {{ ref('stg_catalog__taxes') }}
    where is_applied_by_default
),

subscription_fees as (
    select
        billings.subscription_billing_id,
        billings.invoice_id,
        billings.billing_month,
        billings.issuing_date,
        billings.external_customer_id,
        billings.external_subscription_id,
        billings.plan_code,
        billings.currency,
        'subscription' as line_type,
        cast(null as varchar) as charge_code,
        cast(null as varchar) as metric_code,
        cast(null as varchar) as filter_code,
        cast(null as varchar) as pricing_group,
        plans.plan_name as description,
        cast(null as varchar) as charge_tax_codes,
        plans.tax_codes as plan_tax_codes,
        cast(1 as decimal(38, 9)) as units,
        cast(0 as bigint) as events_count,
        -- Full period unless the subscription started inside it or ends in it (§9 cases 1, 3, 4).
        case
            when billings.fee_billed_days >= billings.fee_period_days then {{ as_decimal('plans.amount') }}
            else {{ divide_exact('plans.amount * billings.fee_billed_days', 'billings.fee_period_days') }}
        end as precise_amount,
        {{ local_midnight_to_utc('greatest(billings.fee_period_start, billings.started_on)', 'billings.timezone') }}
            as from_datetime,
        case
            when billings.billing_trigger = 'termination' then billings.terminated_at
            else {{ local_midnight_to_utc(add_days('billings.fee_period_end', 1), 'billings.timezone') }}
        end as to_datetime_exclusive,
        cast(null as timestamp) as first_event_at,
        cast(null as timestamp) as last_event_at,
        cast(null as varchar) as transaction_id,
        billings.invoice_period_start,
        billings.invoice_period_end
    from billings
    inner join plans
        on billings.plan_code = plans.plan_code
        and billings.fee_period_start >= plans.valid_from
        and billings.fee_period_start < plans.valid_to
    where billings.fee_period_start is not null
),

charge_fees as (
    select
        billings.subscription_billing_id,
        billings.invoice_id,
        billings.billing_month,
        billings.issuing_date,
        billings.external_customer_id,
        billings.external_subscription_id,
        billings.plan_code,
        billings.currency,
        'charge' as line_type,
        priced_charges.charge_code,
        priced_charges.metric_code,
        nullif(priced_charges.filter_code, '') as filter_code,
        priced_charges.pricing_group,
        metrics.metric_name
            || case when priced_charges.filter_code <> '' then ' · ' || priced_charges.filter_code else '' end
            || coalesce(' · ' || priced_charges.pricing_group, '') as description,
        charges.tax_codes as charge_tax_codes,
        plans.tax_codes as plan_tax_codes,
        -- §4: negative units or amounts give a zero fee.
        case when priced_charges.units < 0 or priced_charges.amount < 0 then 0
            else priced_charges.units end as units,
        priced_charges.events_count,
        case when priced_charges.units < 0 or priced_charges.amount < 0 then 0
            else priced_charges.amount end as precise_amount,
        billings.charges_from_at as from_datetime,
        billings.charges_to_at as to_datetime_exclusive,
        priced_charges.first_event_at,
        priced_charges.last_event_at,
        cast(null as varchar) as transaction_id,
        billings.invoice_period_start,
        billings.invoice_period_end
    from priced_charges
    inner join billings on priced_charges.subscription_billing_id = billings.subscription_billing_id
    inner join charges
        on priced_charges.charge_code = charges.charge_code
        and billings.charges_period_start >= charges.valid_from
        and billings.charges_period_start < charges.valid_to
    inner join metrics
        on priced_charges.metric_code = metrics.metric_code
        and billings.charges_period_start >= metrics.valid_from
        and billings.charges_period_start < metrics.valid_to
    inner join plans
        on billings.plan_code = plans.plan_code
        and billings.charges_period_start >= plans.valid_from
        and billings.charges_period_start < plans.valid_to
    -- §4: a fee with no units, no amount and no events is not kept.
    where not (priced_charges.units = 0 and priced_charges.amount = 0 and priced_charges.events_count = 0)
),

{#- Spending minimum (§5): when a charge's fees, all buckets together, stay below its minimum
    prorated to the days billed, a true-up line makes up the difference. -#}
spending_minimums as (
    select
        billings.subscription_billing_id,
        billings.invoice_id,
        billings.billing_month,
        billings.issuing_date,
        billings.external_customer_id,
        billings.external_subscription_id,
        billings.plan_code,
        billings.currency,
        'spending_minimum' as line_type,
        charges.charge_code,
        charges.metric_code,
        cast(null as varchar) as filter_code,
        cast(null as varchar) as pricing_group,
        metrics.metric_name || ' · minimum spend' as description,
        charges.tax_codes as charge_tax_codes,
        max(plans.tax_codes) as plan_tax_codes,
        cast(1 as decimal(38, 9)) as units,
        cast(0 as bigint) as events_count,
        {{ divide_exact(
            'charges.min_amount * (' ~ days_between(
                utc_to_local_date('billings.charges_from_at', 'billings.timezone'),
                "case when billings.billing_trigger = 'termination' then billings.terminated_on "
                ~ "else billings.charges_period_end end") ~ ' + 1)',
            'billings.charges_period_days') }}
            - coalesce(sum({{ round_to_exponent('charge_fees.precise_amount', 'currencies.exponent') }}), 0)
            as precise_amount,
        billings.charges_from_at as from_datetime,
        billings.charges_to_at as to_datetime_exclusive,
        cast(null as timestamp) as first_event_at,
        cast(null as timestamp) as last_event_at,
        cast(null as varchar) as transaction_id,
        billings.invoice_period_start,
        billings.invoice_period_end
    from billings
    inner join charges
        on billings.plan_code = charges.plan_code
        and billings.charges_period_start >= charges.valid_from
        and billings.charges_period_start < charges.valid_to
    inner join plans
        on billings.plan_code = plans.plan_code
        and billings.charges_period_start >= plans.valid_from
        and billings.charges_period_start < plans.valid_to
    inner join currencies on billings.currency = currencies.currency
    left join charge_fees
        on billings.subscription_billing_id = charge_fees.subscription_billing_id
        and charges.charge_code = charge_fees.charge_code
    inner join metrics
        on charges.metric_code = metrics.metric_code
        and billings.charges_period_start >= metrics.valid_from
        and billings.charges_period_start < metrics.valid_to
    where billings.charges_from_at is not null
        and charges.min_amount > 0
        and not charges.is_pay_in_advance
    group by
        billings.subscription_billing_id, billings.invoice_id, billings.billing_month,
        billings.issuing_date, billings.external_customer_id, billings.external_subscription_id,
        billings.plan_code, billings.currency, charges.charge_code, charges.metric_code,
        metrics.metric_name, charges.tax_codes,
        charges.min_amount, billings.charges_from_at, billings.charges_to_at, billings.timezone,
        billings.billing_trigger, billings.terminated_on, billings.charges_period_end,
        billings.charges_period_days, billings.invoice_period_start, billings.invoice_period_end
),

{#- Pay-in-advance fees (§7), one per event; not invoiceable ones have no invoice (CONTRACT §7). -#}
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
),

lines as (
    select * from subscription_fees
    union all
    select * from charge_fees
    union all
    select * from spending_minimums where precise_amount > 0
    union all
    select * from advance_fees
)

select
    {{ hash_key([
        'lines.subscription_billing_id', 'lines.line_type', 'lines.charge_code', 'lines.filter_code',
        'lines.pricing_group', 'lines.external_subscription_id', 'lines.transaction_id',
    ]) }} as invoice_line_id,
    lines.invoice_id,
    case when lines.transaction_id is not null then 'pay_in_advance' else 'subscription' end as invoice_type,
    lines.subscription_billing_id,
    lines.external_customer_id,
    lines.external_subscription_id,
    lines.plan_code,
    lines.line_type,
    lines.charge_code,
    lines.metric_code,
    lines.filter_code,
    lines.pricing_group,
    lines.description,
    lines.currency,
    coalesce(
        nullif(lines.charge_tax_codes, ''),
        nullif(lines.plan_tax_codes, ''),
        nullif(customers.tax_codes, ''),
        nullif(default_taxes.tax_codes, '')
    ) as tax_codes,
    currencies.exponent as currency_exponent,
    {{ as_decimal('lines.units') }} as units,
    lines.events_count,
    {{ as_decimal(
        "case when lines.units = 0 then 0 else " ~ divide_exact('lines.precise_amount', 'lines.units') ~ " end"
    ) }} as unit_amount,
    {{ as_decimal('lines.precise_amount') }} as precise_amount,
    {{ round_to_exponent('lines.precise_amount', 'currencies.exponent') }} as amount,
    lines.billing_month,
    lines.issuing_date,
    lines.from_datetime,
    lines.to_datetime_exclusive,
    lines.first_event_at,
    lines.last_event_at,
    lines.transaction_id,
    lines.invoice_period_start,
    lines.invoice_period_end
from lines
inner join currencies on lines.currency = currencies.currency
left join customers on lines.external_customer_id = customers.external_customer_id
cross join default_taxes
