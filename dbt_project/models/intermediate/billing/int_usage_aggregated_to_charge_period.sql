{#-
    Units per scheduled billing and charge (rule book §2): the events of the subscription whose
    instant falls in the charges window, aggregated by the charge's metric, then metric rounding.
    Every charge of the plan gets a row, with or without events, because a first tier's flat fee
    is billed at zero usage (§18.1). One scan of the events table per close.
-#}
with

billings as (
    select
        subscription_billing_id,
        billing_month,
        external_subscription_id,
        plan_code,
        charges_period_start,
        charges_from_at,
        charges_to_at
    from {{ ref('int_subscription_billings_scheduled') }}
    where
        charges_from_at is not null
        and billing_month >= {{ billing_period_start() }}
        and billing_month < {{ billing_period_end() }}
),

charges as (
    select charge_code, plan_code, metric_code, valid_from, valid_to
    from {{ ref('stg_catalog__charges') }}
),

metrics as (
    select metric_code, aggregation, field_name, rounding_function, rounding_precision, valid_from, valid_to
    from {{ ref('stg_catalog__billable_metrics') }}
),

{#- The catalog in force at the start of each charges period (CONTRACT §3.1). -#}
billing_charges as (
    select
        billings.subscription_billing_id,
        billings.billing_month,
        billings.external_subscription_id,
        billings.charges_from_at,
        billings.charges_to_at,
        charges.charge_code,
        charges.metric_code,
        metrics.aggregation,
        metrics.field_name,
        metrics.rounding_function,
        metrics.rounding_precision
    from billings
    inner join charges
        on billings.plan_code = charges.plan_code
        and billings.charges_period_start >= charges.valid_from
        and billings.charges_period_start < charges.valid_to
    inner join metrics
        on charges.metric_code = metrics.metric_code
        and billings.charges_period_start >= metrics.valid_from
        and billings.charges_period_start < metrics.valid_to
),

events as (
    select
        external_subscription_id,
        transaction_id,
        metric_code,
        properties,
        operation_type,
        event_at
    from {{ ref('stg_landing__events') }}
    where
        event_at >= (select min(charges_from_at) from billings)
        and event_at < (select max(charges_to_at) from billings)
),

charged_events as (
    select
        billing_charges.subscription_billing_id,
        billing_charges.charge_code,
        billing_charges.aggregation,
        events.transaction_id,
        events.operation_type,
        events.event_at,
        case when billing_charges.field_name is not null
            then {{ json_value_text('events.properties', 'billing_charges.field_name') }}
        end as value_text
    from billing_charges
    inner join events
        on billing_charges.external_subscription_id = events.external_subscription_id
        and billing_charges.metric_code = events.metric_code
        and events.event_at >= billing_charges.charges_from_at
        and events.event_at < billing_charges.charges_to_at
),

valued_events as (
    select
        *,
        -- Non-numeric values are ignored by sum, max and latest (rule book §2).
        try_cast(value_text as decimal(38, 9)) as value_number
    from charged_events
),

{#- unique_count (§2): per value, an operation counts only when it differs from the previous one
    for that value; a leading remove is ignored. -#}
unique_count_operations as (
    select
        subscription_billing_id,
        charge_code,
        operation_type,
        lag(operation_type) over (
            partition by subscription_billing_id, charge_code, value_text
            order by event_at, transaction_id
        ) as previous_operation_type
    from valued_events
    where aggregation = 'unique_count' and value_text is not null
),

unique_counts as (
    select
        subscription_billing_id,
        charge_code,
        sum(case
            when previous_operation_type is null and operation_type = 'add' then 1
            when previous_operation_type is not null and operation_type <> previous_operation_type
                then case when operation_type = 'add' then 1 else -1 end
            else 0
        end) as unique_units
    from unique_count_operations
    group by subscription_billing_id, charge_code
),

latest_values as (
    select subscription_billing_id, charge_code, value_number as latest_value
    from (
        select
            subscription_billing_id,
            charge_code,
            value_number,
            row_number() over (
                partition by subscription_billing_id, charge_code
                order by event_at desc, transaction_id desc
            ) as recency_rank
        from valued_events
        where aggregation = 'latest' and value_number is not null
    ) as ranked
    where recency_rank = 1
),

aggregated as (
    select
        subscription_billing_id,
        charge_code,
        count(*) as events_count,
        sum(value_number) as summed_value,
        max(value_number) as max_value,
        min(event_at) as first_event_at,
        max(event_at) as last_event_at
    from valued_events
    group by subscription_billing_id, charge_code
),

units as (
    select
        billing_charges.subscription_billing_id,
        billing_charges.billing_month,
        billing_charges.charge_code,
        billing_charges.metric_code,
        billing_charges.aggregation,
        billing_charges.rounding_function,
        billing_charges.rounding_precision,
        coalesce(aggregated.events_count, 0) as events_count,
        {{ as_decimal("case billing_charges.aggregation
            when 'count' then coalesce(aggregated.events_count, 0)
            when 'sum' then coalesce(aggregated.summed_value, 0)
            when 'max' then coalesce(aggregated.max_value, 0)
            when 'latest' then greatest(coalesce(latest_values.latest_value, 0), 0)
            when 'unique_count' then coalesce(unique_counts.unique_units, 0)
        end") }} as aggregated_units,
        aggregated.first_event_at,
        aggregated.last_event_at
    from billing_charges
    left join aggregated
        on billing_charges.subscription_billing_id = aggregated.subscription_billing_id
        and billing_charges.charge_code = aggregated.charge_code
    left join latest_values
        on billing_charges.subscription_billing_id = latest_values.subscription_billing_id
        and billing_charges.charge_code = latest_values.charge_code
    left join unique_counts
        on billing_charges.subscription_billing_id = unique_counts.subscription_billing_id
        and billing_charges.charge_code = unique_counts.charge_code
)

select
    subscription_billing_id,
    billing_month,
    charge_code,
    metric_code,
    aggregation,
    events_count,
    aggregated_units,
    {{ as_decimal(round_units('aggregated_units', 'rounding_function', 'rounding_precision')) }} as units,
    first_event_at,
    last_event_at
from units
