{#-
    Progressive billing (docs/rules.md §14), step 1: the current usage of every charges period of a
    plan with usage thresholds, after each of its events. For each event of the period's
    in-arrears charges, in the order of (event_at, transaction_id): the amount of the event's
    bucket with the units up to and including it, and the period's usage amount before and after
    it (every bucket at its latest event so far).

    The catalog limits thresholds to plans whose in-arrears charges are unit-priced (standard,
    package, graduated, volume) on count or sum metrics that are not recurring, so that a
    bucket's amount follows from its running units alone. A bucket counts from its first event.

    The steps are computed over whole periods, also the days of a period before the close
    window, and kept for the events of the window (billing_month: the close month of the
    event's local date); earlier closes kept the period's earlier steps.
-#}
with

thresholds as (
    select distinct plan_code from {{ ref('stg_catalog__usage_thresholds') }}
),

period_windows as (
    select distinct
        periods.external_subscription_id,
        periods.requested_at,
        periods.plan_code,
        periods.timezone,
        periods.charges_period_start,
        periods.charges_from_at,
        periods.charges_to_at,
        periods.is_end_served
    from {{ ref('int_subscription_charges_periods') }} as periods
    inner join thresholds on periods.plan_code = thresholds.plan_code
    where periods.billing_month >= {{ billing_period_start() }} and periods.billing_month < {{ billing_period_end() }}
),

period_charges as (
    select
        {{ hash_key([
            'period_windows.external_subscription_id', 'period_windows.requested_at',
            'period_windows.charges_period_start',
        ]) }}
            as scope_key,
        period_windows.*,
        charges.charge_code,
        charges.charge_model,
        charges.metric_code,
        charges.pricing_group_keys as charge_pricing_group_keys,
        metrics.aggregation,
        metrics.field_name
    from period_windows
    inner join {{ ref('stg_catalog__charges') }} as charges
        on period_windows.plan_code = charges.plan_code
        and period_windows.charges_period_start >= charges.valid_from
        and period_windows.charges_period_start < charges.valid_to
    inner join {{ ref('stg_catalog__billable_metrics') }} as metrics
        on charges.metric_code = metrics.metric_code
        and period_windows.charges_period_start >= metrics.valid_from
        and period_windows.charges_period_start < metrics.valid_to
    where not charges.is_pay_in_advance
),

charged_events as {{ recomputed_cte() }} (
    select
        period_charges.scope_key,
        period_charges.charge_code,
        period_charges.charge_pricing_group_keys,
        period_charges.charges_period_start,
        events.transaction_id,
        events.properties,
        events.event_at,
        case when period_charges.aggregation = 'count' then {{ as_decimal('1') }}
            when {{ is_numeric_text(json_value_text('events.properties', 'period_charges.field_name')) }}
                then coalesce({{ event_number(json_value_text('events.properties', 'period_charges.field_name')) }}, 0)
            else {{ as_decimal('0') }}
        end as added_units
    from period_charges
    inner join {{ ref('stg_landing__events') }} as events
        on period_charges.external_subscription_id = events.external_subscription_id
        and period_charges.metric_code = events.metric_code
        and events.event_at >= period_charges.charges_from_at
        and {{ before_window_end('events.event_at', 'period_charges.charges_to_at', 'period_charges.is_end_served') }}
),

{{ bucketed_charge_events(
    'charged_events',
    'bucketed',
    filter_conditions=ref('int_charge_filter_conditions'),
    filter_children=ref('int_charge_filter_children'),
    charge_filters=ref('stg_catalog__charge_filters'),
    pricing_group_keys=ref('int_pricing_group_keys')
) }},

bucket_steps as (
    select
        bucketed.scope_key,
        bucketed.charge_code,
        bucketed.filter_code,
        bucketed.pricing_group,
        bucketed.transaction_id,
        bucketed.event_at,
        bucketed.charges_period_start,
        {{ hash_key(['bucketed.scope_key', 'bucketed.charge_code', 'bucketed.filter_code',
            'bucketed.pricing_group', 'bucketed.transaction_id']) }} as price_key,
        sum(charged_events.added_units) over (
            partition by bucketed.scope_key, bucketed.charge_code, bucketed.filter_code, bucketed.pricing_group
            order by bucketed.event_at, bucketed.transaction_id
            rows between unbounded preceding and current row
        ) as units_including,
        count(*) over (
            partition by bucketed.scope_key, bucketed.charge_code, bucketed.filter_code, bucketed.pricing_group
            order by bucketed.event_at, bucketed.transaction_id
            rows between unbounded preceding and current row
        ) as events_including
    from bucketed
    inner join charged_events
        on bucketed.scope_key = charged_events.scope_key
        and bucketed.charge_code = charged_events.charge_code
        and bucketed.transaction_id = charged_events.transaction_id
),

priced_steps as (
    select
        bucket_steps.*,
        charges.charge_model,
        {%- for property in charge_property_names() %}
        coalesce(charge_filters.{{ property }}, charges.{{ property }}) as {{ property }},
        {%- endfor %}
        bucket_steps.charges_period_start as tier_date
    from bucket_steps
    inner join {{ ref('stg_catalog__charges') }} as charges
        on bucket_steps.charge_code = charges.charge_code
        and bucket_steps.charges_period_start >= charges.valid_from
        and bucket_steps.charges_period_start < charges.valid_to
    left join {{ ref('stg_catalog__charge_filters') }} as charge_filters
        on bucket_steps.charge_code = charge_filters.charge_code
        and bucket_steps.filter_code = charge_filters.filter_code
        and bucket_steps.charges_period_start >= charge_filters.valid_from
        and bucket_steps.charges_period_start < charge_filters.valid_to
),

unit_priced_input as (
    select
        price_key, charge_code, filter_code, tier_date, charge_model,
        {{ as_decimal('greatest(units_including, 0)') }} as units,
        {{ as_decimal('greatest(units_including, 0)') }} as tier_units,
        amount, package_size, free_units
    from priced_steps
),

{{ charge_model_amounts('unit_priced_input', 'unit_priced', charge_tiers=ref('stg_catalog__charge_tiers')) }},

bucket_amounts as (
    select
        priced_steps.*,
        unit_priced.model_amount as bucket_amount,
        -- What this event adds to the period's usage: its bucket's amount now less before it.
        unit_priced.model_amount - coalesce(lag(unit_priced.model_amount) over (
            partition by
                priced_steps.scope_key, priced_steps.charge_code, priced_steps.filter_code,
                priced_steps.pricing_group
            order by priced_steps.event_at, priced_steps.transaction_id
        ), 0) as usage_increase
    from priced_steps
    inner join unit_priced on priced_steps.price_key = unit_priced.price_key
),

period_steps as (
    select
        bucket_amounts.*,
        sum(bucket_amounts.usage_increase) over step_order as usage_after,
        row_number() over step_order as step_number
    from bucket_amounts
    window step_order as (
        partition by bucket_amounts.scope_key
        order by
            bucket_amounts.event_at,
            bucket_amounts.transaction_id,
            bucket_amounts.charge_code,
            bucket_amounts.filter_code,
            bucket_amounts.pricing_group
        rows between unbounded preceding and current row
    )
)

select
    period_steps.scope_key,
    period_windows.external_subscription_id,
    period_windows.requested_at,
    period_windows.plan_code,
    period_windows.charges_period_start,
    period_windows.charges_from_at,
    period_steps.step_number,
    period_steps.charge_code,
    period_steps.filter_code,
    period_steps.pricing_group,
    period_steps.transaction_id,
    period_steps.event_at,
    {{ trunc_date('month', utc_to_local_date('period_steps.event_at', 'period_windows.timezone')) }} as billing_month,
    {{ as_decimal('period_steps.units_including') }} as bucket_units,
    period_steps.events_including as bucket_events_count,
    {{ as_decimal('period_steps.bucket_amount') }} as bucket_amount,
    {{ as_decimal('period_steps.usage_after - period_steps.usage_increase') }} as usage_before,
    {{ as_decimal('period_steps.usage_after') }} as usage_after
from period_steps
inner join period_windows
    on period_steps.scope_key
    = {{ hash_key([
        'period_windows.external_subscription_id', 'period_windows.requested_at',
        'period_windows.charges_period_start',
    ]) }}
where {{ utc_to_local_date('period_steps.event_at', 'period_windows.timezone') }} >= {{ billing_period_start() }}
    and {{ utc_to_local_date('period_steps.event_at', 'period_windows.timezone') }} < {{ billing_period_end() }}
