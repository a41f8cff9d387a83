{#-
    Invoice lines (Lago's fees) of the close window: subscription fees (rule book §9), charge
    fees per bucket (§4, §1.10, §1.11), spending-minimum (§5) and minimum-commitment (§6)
    true-ups, each rounded once to
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
    select plan_code, plan_name, amount, minimum_commitment, tax_codes, valid_from, valid_to
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
        -- Full period unless the phase started, its trial ended, or it ends inside it (§9).
        case
            when billings.fee_billed_days >= billings.fee_period_days then {{ as_decimal('plans.amount') }}
            else {{ divide_exact('plans.amount * billings.fee_billed_days', 'billings.fee_period_days') }}
        end as precise_amount,
        {{ local_midnight_to_utc('billings.fee_from_on', 'billings.timezone') }} as from_datetime,
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
    -- No day to bill (a trial over the whole period, an upgrade on the period's first day): no line.
    where billings.fee_billed_days > 0
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
            'charges.min_amount * greatest(0, ' ~ days_between('billings.charges_from_date', 'billings.charges_to_date') ~ ' + 1)',
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
        charges.min_amount, billings.charges_from_at, billings.charges_to_at,
        billings.charges_from_date, billings.charges_to_date,
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

fee_lines as (
    select * from subscription_fees
    union all
    select * from charge_fees
    union all
    select * from spending_minimums where precise_amount > 0
    union all
    select * from advance_fees
),

{#- Minimum commitment (§6): the billing on the last day of a plan period, or at a termination,
    tops the period's fees up to the commitment prorated to the days the phase had in it. In
    arrears that is the invoice closing the period; in advance, the one that opens the next
    (§6 timing), which is the same billing. The fees of the period are every line whose window
    starts in it, from this close and from earlier ones, before coupons (§18.11). -#}
commitment_periods as (
    select
        billings.*,
        plans.minimum_commitment,
        plans.tax_codes as plan_tax_codes,
        {{ period_start('billings.plan_interval', 'billings.anchor_on', 'billings.commitment_day') }}
            as commitment_period_start,
        {{ period_end('billings.plan_interval', 'billings.anchor_on',
            period_start('billings.plan_interval', 'billings.anchor_on', 'billings.commitment_day')) }}
            as commitment_period_end
    from (
        select
            billings.*,
            case when billing_trigger = 'termination' then terminated_on
                else {{ add_days('issuing_date', -1) }} end as commitment_day
        from billings
        where billing_trigger in ('period_end', 'termination')
    ) as billings
    inner join plans
        on billings.plan_code = plans.plan_code
        and billings.commitment_day >= plans.valid_from
        and billings.commitment_day < plans.valid_to
    where plans.minimum_commitment > 0
),

closing_commitment_periods as (
    select
        commitment_periods.*,
        {{ local_midnight_to_utc('commitment_period_start', 'timezone') }} as commitment_from_at,
        {{ local_midnight_to_utc(add_days('commitment_period_end', 1), 'timezone') }} as commitment_to_at
    from commitment_periods
    where billing_trigger = 'termination' or commitment_day = commitment_period_end
),

period_fees as (
    select external_subscription_id, plan_code, from_datetime, {{ round_to_exponent('precise_amount', 'currencies.exponent') }} as amount
    from fee_lines
    inner join currencies on fee_lines.currency = currencies.currency
    {% if is_incremental() %}
    union all
    select external_subscription_id, plan_code, from_datetime, amount
    from {{ this }}
    where billing_month < {{ billing_period_start() }} and line_type <> 'commitment'
    {% endif %}
),

commitments as (
    select
        closing.subscription_billing_id,
        closing.invoice_id,
        closing.billing_month,
        closing.issuing_date,
        closing.external_customer_id,
        closing.external_subscription_id,
        closing.plan_code,
        closing.currency,
        'commitment' as line_type,
        cast(null as varchar) as charge_code,
        cast(null as varchar) as metric_code,
        cast(null as varchar) as filter_code,
        cast(null as varchar) as pricing_group,
        'Minimum commitment' as description,
        cast(null as varchar) as charge_tax_codes,
        closing.plan_tax_codes,
        cast(1 as decimal(38, 9)) as units,
        cast(0 as bigint) as events_count,
        {{ as_decimal(round_to_exponent(divide_exact(
            'closing.minimum_commitment * (' ~ days_between(
                'greatest(closing.commitment_period_start, closing.started_on)', 'closing.commitment_day') ~ ' + 1)',
            days_between('closing.commitment_period_start', 'closing.commitment_period_end') ~ ' + 1'
        ), 'currencies.exponent') ~ ' - coalesce(sum(period_fees.amount), 0)') }} as precise_amount,
        greatest(closing.commitment_from_at, closing.started_at) as from_datetime,
        case when closing.billing_trigger = 'termination' then closing.terminated_at
            else closing.commitment_to_at end as to_datetime_exclusive,
        cast(null as timestamp) as first_event_at,
        cast(null as timestamp) as last_event_at,
        cast(null as varchar) as transaction_id,
        closing.invoice_period_start,
        closing.invoice_period_end
    from closing_commitment_periods as closing
    inner join currencies on closing.currency = currencies.currency
    left join period_fees
        on closing.external_subscription_id = period_fees.external_subscription_id
        and closing.plan_code = period_fees.plan_code
        and period_fees.from_datetime >= closing.commitment_from_at
        and period_fees.from_datetime < closing.commitment_to_at
    group by
        closing.subscription_billing_id, closing.invoice_id, closing.billing_month, closing.issuing_date,
        closing.external_customer_id, closing.external_subscription_id, closing.plan_code,
        closing.currency, closing.plan_tax_codes, closing.minimum_commitment, closing.commitment_period_start,
        closing.commitment_period_end, closing.started_on, closing.commitment_day, currencies.exponent,
        closing.commitment_from_at, closing.commitment_to_at, closing.started_at, closing.billing_trigger,
        closing.terminated_at, closing.invoice_period_start, closing.invoice_period_end
),

lines as (
    select * from fee_lines
    union all
    select * from commitments where precise_amount > 0
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
