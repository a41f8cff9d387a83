{#-
    Invoice lines (Lago's fees) of the close window: subscription fees (docs/rules.md §9), charge
    fees per bucket (§4, §1.10, §1.11), spending-minimum (§5) and minimum-commitment (§6)
    true-ups, each rounded once to
    its currency's exponent, with the taxes that apply to it (§11 precedence: charge, then plan,
    then customer, then the billing entity's defaults).
-#}
with

billings as (
    select
        *,
        -- docs/conventions.md: the bounds of the period the invoice closes.
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

{#- Each priced charge's own window and versions: the billing's, or for a recurring pay-in-advance
    charge's billing-day fee the period that starts on the issuing day (§7). -#}
charge_windows as (
    select
        subscription_billing_id, charge_code, charges_from_at, charges_to_at, is_billing_day_fee,
        charges_period_start as version_day
    from {{ ref('int_subscription_billing_charges') }}
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
    select
        charge_code, plan_code, metric_code, tax_codes, min_amount, is_pay_in_advance, is_invoiceable,
        valid_from, valid_to
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
        -- A billing-day fee of a charge that is not invoiceable has no invoice (docs/conventions.md).
        case when charge_windows.is_billing_day_fee and not charges.is_invoiceable then null
            else billings.invoice_id end as invoice_id,
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
        charge_windows.charges_from_at as from_datetime,
        charge_windows.charges_to_at as to_datetime_exclusive,
        priced_charges.first_event_at,
        priced_charges.last_event_at,
        cast(null as varchar) as transaction_id,
        billings.invoice_period_start,
        billings.invoice_period_end
    from priced_charges
    inner join billings on priced_charges.subscription_billing_id = billings.subscription_billing_id
    inner join charge_windows
        on priced_charges.subscription_billing_id = charge_windows.subscription_billing_id
        and priced_charges.charge_code = charge_windows.charge_code
    -- The versions that priced the line (a billing-day fee's are the new period's, §7).
    inner join charges
        on priced_charges.charge_code = charges.charge_code
        and charge_windows.version_day >= charges.valid_from
        and charge_windows.version_day < charges.valid_to
    inner join metrics
        on priced_charges.metric_code = metrics.metric_code
        and charge_windows.version_day >= metrics.valid_from
        and charge_windows.version_day < metrics.valid_to
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

{#- Pay-in-advance fees (§7), one per event; not invoiceable ones have no invoice (docs/conventions.md). -#}
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

{#- The commitment prorated to the days the phase had, unrounded, as a column (nested exact
    macros get column operands, macros/money.sql). -#}
closing_commitment_periods as (
    select *, {{ divide_exact('commitment_prorated_numerator', 'commitment_period_days') }} as commitment_prorated_amount
    from (
        select
            commitment_periods.*,
            {{ local_midnight_to_utc('commitment_period_start', 'timezone') }} as commitment_from_at,
            {{ local_midnight_to_utc(add_days('commitment_period_end', 1), 'timezone') }} as commitment_to_at,
            minimum_commitment * ({{ days_between('greatest(commitment_period_start, started_on)', 'commitment_day') }} + 1)
                as commitment_prorated_numerator,
            {{ days_between('commitment_period_start', 'commitment_period_end') }} + 1 as commitment_period_days
        from commitment_periods
        where billing_trigger = 'termination' or commitment_day = commitment_period_end
    ) as commitment_operands
),

{#- The rounded lines of subscription and pay-in-advance invoices issued so far: this close's
    and earlier closes' (what progressive billing issues is not among them). -#}
issued_lines as (
    select
        external_subscription_id, plan_code, line_type, transaction_id, from_datetime, issuing_date,
        {{ round_to_exponent('precise_amount', 'currencies.exponent') }} as amount
    from fee_lines
    inner join currencies on fee_lines.currency = currencies.currency
    {% if is_incremental() %}
    union all
    select external_subscription_id, plan_code, line_type, transaction_id, from_datetime, issuing_date, amount
    from {{ this }}
    where billing_month < {{ billing_period_start() }} and invoice_type <> 'progressive_billing'
    {% endif %}
),

period_fees as (
    select external_subscription_id, plan_code, from_datetime, amount
    from issued_lines
    where line_type <> 'commitment'
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
        {{ as_decimal(round_to_exponent('closing.commitment_prorated_amount', 'currencies.exponent')
            ~ ' - coalesce(sum(period_fees.amount), 0)') }} as precise_amount,
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
        closing.terminated_at, closing.invoice_period_start, closing.invoice_period_end,
        closing.commitment_prorated_amount
),

{#- Progressive billing (§14): the lifetime usage of a phase is what its subscription invoices
    billed in charges before the period (invoiced usage) plus the period's usage so far
    (int_usage_threshold_steps). An event passes a fixed threshold t when it lifts the lifetime
    usage from below t to t or more, which happens once in a lifetime (§18.10). It passes the
    recurring threshold r when, still below the largest fixed threshold F before it, it lifts
    the usage r above F; and, once at or above F, when it crosses a multiple of r (Lago's
    `actual + invoiced mod r >= r`). Each event that passes a threshold issues an invoice at its
    instant with every bucket of the period at its amount so far; what earlier ones billed is
    credited on the next invoice (int_progressive_billing_credits). -#}
threshold_steps as (
    -- Whole periods: the window's steps and those earlier closes kept of the same periods.
    select *
    from {{ ref('int_usage_threshold_steps') }}
    where scope_key in (
        select scope_key from {{ ref('int_usage_threshold_steps') }}
        where billing_month >= {{ billing_period_start() }} and billing_month < {{ billing_period_end() }}
    )
),

threshold_rules as (
    select
        plan_code,
        coalesce(max(case when not is_recurring then threshold_amount end), 0) as largest_fixed_amount,
        max(case when is_recurring then threshold_amount end) as recurring_amount
    from {{ ref('stg_catalog__usage_thresholds') }}
    group by plan_code
),

threshold_periods as (
    select distinct scope_key, external_subscription_id, plan_code, charges_period_start
    from threshold_steps
),

invoiced_usage as (
    select threshold_periods.scope_key, coalesce(sum(issued_lines.amount), 0) as invoiced_amount
    from threshold_periods
    left join issued_lines
        on threshold_periods.external_subscription_id = issued_lines.external_subscription_id
        and threshold_periods.plan_code = issued_lines.plan_code
        and issued_lines.line_type = 'charge'
        and issued_lines.transaction_id is null
        -- Invoiced by the period's start: earlier periods' charges, and the billing-day fee of a
        -- recurring pay-in-advance charge issued that day for this period (§7).
        and issued_lines.issuing_date <= threshold_periods.charges_period_start
    group by threshold_periods.scope_key
),

lifetime_steps as (
    select
        threshold_steps.scope_key,
        threshold_steps.step_number,
        threshold_steps.billing_month,
        threshold_rules.largest_fixed_amount,
        threshold_rules.recurring_amount,
        invoiced_usage.invoiced_amount + threshold_steps.usage_before as lifetime_before,
        invoiced_usage.invoiced_amount + threshold_steps.usage_after as lifetime_after
    from threshold_steps
    inner join invoiced_usage on threshold_steps.scope_key = invoiced_usage.scope_key
    inner join threshold_rules on threshold_steps.plan_code = threshold_rules.plan_code
),

fixed_passes as (
    select distinct lifetime_steps.scope_key, lifetime_steps.step_number
    from lifetime_steps
    inner join threshold_steps
        on lifetime_steps.scope_key = threshold_steps.scope_key
        and lifetime_steps.step_number = threshold_steps.step_number
    inner join {{ ref('stg_catalog__usage_thresholds') }} as thresholds
        on threshold_steps.plan_code = thresholds.plan_code
        and not thresholds.is_recurring
        and thresholds.threshold_amount > lifetime_steps.lifetime_before
        and thresholds.threshold_amount <= lifetime_steps.lifetime_after
),

threshold_crossings as (
    select lifetime_steps.scope_key, lifetime_steps.step_number, lifetime_steps.billing_month
    from lifetime_steps
    left join fixed_passes
        on lifetime_steps.scope_key = fixed_passes.scope_key
        and lifetime_steps.step_number = fixed_passes.step_number
    where
        fixed_passes.step_number is not null
        or (lifetime_steps.lifetime_before < lifetime_steps.largest_fixed_amount
            and lifetime_steps.lifetime_after - lifetime_steps.largest_fixed_amount >= lifetime_steps.recurring_amount)
        or (lifetime_steps.lifetime_before >= lifetime_steps.largest_fixed_amount
            and floor({{ divide_exact('lifetime_steps.lifetime_after', 'lifetime_steps.recurring_amount') }})
                > floor({{ divide_exact('lifetime_steps.lifetime_before', 'lifetime_steps.recurring_amount') }}))
),

{#- Every bucket of the period at its latest event up to the crossing. -#}
progressive_buckets as (
    select *
    from (
        select
            crossings.scope_key,
            crossings.step_number as crossing_step,
            crossings.billing_month as crossing_billing_month,
            crossing_event.transaction_id as crossing_transaction_id,
            crossing_event.event_at as crossed_at,
            bucket_steps.external_subscription_id,
            bucket_steps.requested_at,
            bucket_steps.plan_code,
            bucket_steps.charges_period_start,
            bucket_steps.charges_from_at,
            bucket_steps.charge_code,
            bucket_steps.filter_code,
            bucket_steps.pricing_group,
            bucket_steps.event_at,
            bucket_steps.bucket_units,
            bucket_steps.bucket_events_count,
            bucket_steps.bucket_amount,
            row_number() over (
                partition by crossings.scope_key, crossings.step_number, bucket_steps.charge_code,
                    bucket_steps.filter_code, bucket_steps.pricing_group
                order by bucket_steps.step_number desc
            ) as recency_rank
        from threshold_crossings as crossings
        inner join threshold_steps as crossing_event
            on crossings.scope_key = crossing_event.scope_key
            and crossings.step_number = crossing_event.step_number
        inner join threshold_steps as bucket_steps
            on crossings.scope_key = bucket_steps.scope_key
            and bucket_steps.step_number <= crossings.step_number
        where crossings.billing_month >= {{ billing_period_start() }}
            and crossings.billing_month < {{ billing_period_end() }}
    ) as ranked
    where recency_rank = 1
),

progressive_lines as (
    select
        cast(null as varchar) as subscription_billing_id,
        {{ hash_key(['buckets.scope_key', 'buckets.crossing_transaction_id', "'progressive_billing'"]) }} as invoice_id,
        buckets.crossing_billing_month as billing_month,
        {{ utc_to_local_date('buckets.crossed_at', 'periods.timezone') }} as issuing_date,
        periods.external_customer_id,
        buckets.external_subscription_id,
        buckets.plan_code,
        periods.currency,
        'charge' as line_type,
        buckets.charge_code,
        charges.metric_code,
        nullif(buckets.filter_code, '') as filter_code,
        buckets.pricing_group,
        metrics.metric_name
            || case when buckets.filter_code <> '' then ' · ' || buckets.filter_code else '' end
            || coalesce(' · ' || buckets.pricing_group, '') as description,
        charges.tax_codes as charge_tax_codes,
        plans.tax_codes as plan_tax_codes,
        buckets.bucket_units as units,
        cast(buckets.bucket_events_count as bigint) as events_count,
        buckets.bucket_amount as precise_amount,
        buckets.charges_from_at as from_datetime,
        -- Usage up to the crossing event, which is included.
        buckets.crossed_at as to_datetime_exclusive,
        cast(null as timestamp) as first_event_at,
        buckets.event_at as last_event_at,
        cast(null as varchar) as transaction_id,
        periods.charges_period_start as invoice_period_start,
        periods.charges_period_end as invoice_period_end
    from progressive_buckets as buckets
    inner join (
        select distinct
            external_subscription_id, requested_at, charges_period_start, charges_period_end,
            external_customer_id, currency, timezone
        from {{ ref('int_subscription_charges_periods') }}
        where billing_month >= {{ billing_period_start() }} and billing_month < {{ billing_period_end() }}
    ) as periods
        on buckets.external_subscription_id = periods.external_subscription_id
        and buckets.requested_at = periods.requested_at
        and buckets.charges_period_start = periods.charges_period_start
    inner join charges
        on buckets.charge_code = charges.charge_code
        and buckets.charges_period_start >= charges.valid_from
        and buckets.charges_period_start < charges.valid_to
    inner join metrics
        on charges.metric_code = metrics.metric_code
        and buckets.charges_period_start >= metrics.valid_from
        and buckets.charges_period_start < metrics.valid_to
    inner join plans
        on buckets.plan_code = plans.plan_code
        and buckets.charges_period_start >= plans.valid_from
        and buckets.charges_period_start < plans.valid_to
    where not (buckets.bucket_units = 0 and buckets.bucket_amount = 0)
),

lines as (
    select * from fee_lines
    union all
    select * from commitments where precise_amount > 0
    union all
    select * from progressive_lines
)

select
    {{ hash_key([
        'lines.subscription_billing_id', 'lines.line_type', 'lines.charge_code', 'lines.filter_code',
        'lines.pricing_group', 'lines.external_subscription_id', 'lines.transaction_id', 'lines.invoice_id',
    ]) }} as invoice_line_id,
    lines.invoice_id,
    case
        when lines.transaction_id is not null then 'pay_in_advance'
        when lines.subscription_billing_id is null then 'progressive_billing'
        else 'subscription'
    end as invoice_type,
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
