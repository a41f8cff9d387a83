{#-
    Invoice lines (Lago's fees) of the close window: subscription fees (rule book §9) and charge
    fees (§4), each rounded once to its currency's exponent, with the taxes that apply to it
    (§11 precedence: charge, then plan, then customer, then the billing entity's defaults).
-#}
with

billings as (
    select *
    from {{ ref('int_subscription_billings_scheduled') }}
    where billing_month >= {{ billing_period_start() }} and billing_month < {{ billing_period_end() }}
),

priced_charges as (
    select *
    from {{ ref('int_charges_priced') }}
    where billing_month >= {{ billing_period_start() }} and billing_month < {{ billing_period_end() }}
),

plans as (
    select plan_code, plan_name, amount, tax_codes, valid_from, valid_to
    from {{ ref('stg_catalog__plans') }}
),

charges as (
    select charge_code, tax_codes, valid_from, valid_to
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
        cast(null as timestamp) as last_event_at
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
        metrics.metric_name as description,
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
        priced_charges.last_event_at
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

lines as (
    select * from subscription_fees
    union all
    select * from charge_fees
)

select
    {{ hash_key(['lines.subscription_billing_id', 'lines.line_type', 'lines.charge_code']) }}
        as invoice_line_id,
    lines.invoice_id,
    lines.subscription_billing_id,
    lines.external_customer_id,
    lines.external_subscription_id,
    lines.plan_code,
    lines.line_type,
    lines.charge_code,
    lines.metric_code,
    cast(null as varchar) as filter_code,
    cast(null as varchar) as pricing_group,
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
    lines.last_event_at
from lines
inner join currencies on lines.currency = currencies.currency
left join customers on lines.external_customer_id = customers.external_customer_id
cross join default_taxes
