{#-
    Units per scheduled billing, charge and bucket (docs/rules.md §2, §2.1): the bucketed events
    aggregated by the charge's metric, then metric rounding. Every bucket of every charge gets a
    row, with or without events, because a first tier's flat fee is billed at zero usage (§18.1);
    a bucket without events has the empty pricing group.
-#}
{#- Names a bucket's sum in the error of a sum beyond the decimal (sum_within_limit). -#}
{%- set usage_sum_subject = "' metric ' || any_value(metric_code) || ' for subscription '"
    ~ " || any_value(external_subscription_id) || ' (charge ' || charge_code || ')'" -%}

with

charge_filters as (
    select charge_code, filter_code, pricing_group_keys, valid_from, valid_to
    from {{ ref('stg_catalog__charge_filters') }}
),

{#- The empty group of a list of group keys: every key null. -#}
empty_groups as (
    select
        pricing_group_keys,
        '{' || {{ string_agg_sorted(json_quote('group_key') ~ " || ':null'", "','") }} || '}' as pricing_group
    from {{ ref('int_pricing_group_keys') }}
    group by pricing_group_keys
),

billing_charges as (
    select *
    from {{ ref('int_subscription_billing_charges') }}
    where billing_month >= {{ billing_period_start() }} and billing_month < {{ billing_period_end() }}
),

{#- The default bucket, and one per filter in force (§1.11). -#}
billing_filters as (
    select subscription_billing_id, charge_code, '' as filter_code, charge_pricing_group_keys as pricing_group_keys
    from billing_charges
    union all
    select
        billing_charges.subscription_billing_id,
        billing_charges.charge_code,
        charge_filters.filter_code,
        coalesce(charge_filters.pricing_group_keys, billing_charges.charge_pricing_group_keys)
    from billing_charges
    inner join charge_filters
        on billing_charges.charge_code = charge_filters.charge_code
        and billing_charges.charges_period_start >= charge_filters.valid_from
        and billing_charges.charges_period_start < charge_filters.valid_to
),

events as {{ recomputed_cte() }} (
    select
        bucketed.*,
        billing_charges.external_subscription_id,
        billing_charges.metric_code,
        billing_charges.aggregation,
        billing_charges.charges_from_date,
        billing_charges.charges_to_date,
        billing_charges.charges_period_days,
        billing_charges.charges_to_at,
        billing_charges.is_prorated
    from {{ ref('int_charge_events_bucketed') }} as bucketed
    inner join billing_charges
        on bucketed.subscription_billing_id = billing_charges.subscription_billing_id
        and bucketed.charge_code = billing_charges.charge_code
    where bucketed.billing_month >= {{ billing_period_start() }}
        and bucketed.billing_month < {{ billing_period_end() }}
),

{#- unique_count (§2): per value, an operation counts only when it differs from the previous
    one for that value; a leading remove is ignored. Recurring metrics carry values over. -#}
unique_operations as (
    select
        *,
        lag(operation_type) over (
            partition by subscription_billing_id, charge_code, filter_code, pricing_group, value_text
            order by event_at, transaction_id
        ) as previous_operation_type
    from events
    where aggregation = 'unique_count' and value_text is not null
),

relevant_operations as (
    select
        *,
        lead(event_local_date) over value_history as next_event_local_date,
        lead(operation_type) over value_history as next_operation_type
    from unique_operations
    where (previous_operation_type is null and operation_type = 'add')
        or (previous_operation_type is not null and operation_type <> previous_operation_type)
    window value_history as (
        partition by subscription_billing_id, charge_code, filter_code, pricing_group, value_text
        order by event_at, transaction_id
    )
),

{#- Prorated unique count (§2.1): each add counts its days, from the add (or the period start)
    through the removal (or the period end), both inclusive, over the full period length; a day
    the value was already active (removed and added again the same day) counts once, as Lago's
    store ignores a removal followed the same day by an add. The sum is ceil'd at 5 decimals, as
    for the prorated sum. -#}
active_stretches as (
    select
        subscription_billing_id,
        charge_code,
        filter_code,
        pricing_group,
        value_text,
        event_at,
        transaction_id,
        greatest(event_local_date, charges_from_date) as active_from_date,
        case when next_operation_type = 'remove' then least(next_event_local_date, charges_to_date)
            else charges_to_date end as active_to_date,
        charges_period_days
    from relevant_operations
    where operation_type = 'add'
),

unique_counts as (
    select
        subscription_billing_id,
        charge_code,
        filter_code,
        pricing_group,
        sum(stretch_units) as unique_units,
        sum(case when stretch_units = 1 then {{ divide_exact(
            'greatest(0, ' ~ days_between(
                "case when previous_active_to_date is not null
                    and previous_active_to_date >= active_from_date
                    then " ~ add_days('previous_active_to_date', 1) ~ " else active_from_date end",
                'active_to_date'
            ) ~ ' + 1)',
            'charges_period_days'
        ) }} else 0 end) as prorated_unique_units
    from (
        select
            subscription_billing_id,
            charge_code,
            filter_code,
            pricing_group,
            1 as stretch_units,
            active_from_date,
            active_to_date,
            charges_period_days,
            lag(active_to_date) over (
                partition by subscription_billing_id, charge_code, filter_code, pricing_group, value_text
                order by event_at, transaction_id
            ) as previous_active_to_date
        from active_stretches
        union all
        -- A relevant remove takes its value out of the (unprorated) count.
        select
            subscription_billing_id, charge_code, filter_code, pricing_group, -1, null, null, charges_period_days, null
        from relevant_operations
        where operation_type = 'remove'
    ) as stretches
    group by subscription_billing_id, charge_code, filter_code, pricing_group
),

latest_values as (
    select subscription_billing_id, charge_code, filter_code, pricing_group, value_number as latest_value
    from (
        select
            *,
            row_number() over (
                partition by subscription_billing_id, charge_code, filter_code, pricing_group
                order by event_at desc, transaction_id desc
            ) as recency_rank
        from events
        where aggregation = 'latest' and not is_carried_over
    ) as ranked
    where recency_rank = 1
),

{#- weighted_sum (§2): the level steps at each event; each level counts for the seconds until the
    next event or the window's end, over the full period length in seconds (§18.6). -#}
weighted_steps as (
    select
        subscription_billing_id,
        charge_code,
        filter_code,
        pricing_group,
        charges_period_days,
        sum(case when is_carried_over then value_number else 0 end) over bucket_all
            + sum(case when is_carried_over then 0 else value_number end) over (
                bucket_all rows between unbounded preceding and current row
            ) as level_after,
        {{ seconds_between(
            'event_at',
            'coalesce(lead(event_at) over (partition by subscription_billing_id, charge_code, filter_code, '
            ~ 'pricing_group, is_carried_over order by event_at, transaction_id), charges_to_at)'
        ) }} as seconds_at_level,
        is_carried_over
    from events
    where aggregation = 'weighted_sum'
    window bucket_all as (
        partition by subscription_billing_id, charge_code, filter_code, pricing_group
        order by is_carried_over desc, event_at, transaction_id
    )
),

weighted_sums as (
    select
        subscription_billing_id,
        charge_code,
        filter_code,
        pricing_group,
        sum(case when is_carried_over then 0 else level_after * seconds_at_level end) as level_seconds,
        sum(case when is_carried_over then level_after else 0 end) as initial_level,
        max(charges_period_days) as charges_period_days
    from weighted_steps
    group by subscription_billing_id, charge_code, filter_code, pricing_group
),

aggregated as (
    select
        subscription_billing_id,
        charge_code,
        filter_code,
        pricing_group,
        count(case when is_counted then 1 end) as events_count,
        {{ sum_within_limit('value_number', "'the sum of' || " ~ usage_sum_subject) }} as summed_value,
        max(case when not is_carried_over then value_number end) as max_value,
        min(case when not is_carried_over then event_at end) as first_window_event_at,
        {{ sum_within_limit('precise_total_amount', "'the dynamic amount of' || " ~ usage_sum_subject) }} as dynamic_amount,
        -- Prorated sum (§2.1): carried units weighted by the active days, each event by the days
        -- from its day to the window's last day, both over the full period length; ceil at 5.
        -- Each value v = period_days * a + b (macros/money.sql, prorate_exact): the sum of
        -- v * days / period_days is the integer sum of a * days plus the small sum of b * days
        -- over period_days, rounded once, so a value near the 29-digit limit times a day count
        -- never has to fit the decimal (docs/bad-input.md). Only prorated charges read it.
        {{ sum_within_limit(
            multiply_exact('prorated_whole', 'prorated_days'),
            "'the prorated sum of' || " ~ usage_sum_subject) }} as day_weighted_whole,
        sum(
            (value_number - {{ multiply_exact('prorated_whole', 'charges_period_days') }}) * prorated_days
        ) as day_weighted_rest,
        max(charges_period_days) as charges_period_days,
        min(event_at) as first_event_at,
        max(event_at) as last_event_at
    from (
        select
            *,
            case
                when is_carried_over then {{ days_between('charges_from_date', 'charges_to_date') }} + 1
                else {{ days_between('event_local_date', 'charges_to_date') }} + 1
            end as prorated_days,
            case when is_prorated then {{ prorate_whole('value_number', 'charges_period_days') }} end
                as prorated_whole
        from events
    ) as events
    group by subscription_billing_id, charge_code, filter_code, pricing_group
),

buckets as (
    select
        billing_filters.subscription_billing_id,
        billing_filters.charge_code,
        billing_filters.filter_code,
        coalesce(aggregated.pricing_group, empty_groups.pricing_group) as pricing_group
    from billing_filters
    left join (
        select distinct subscription_billing_id, charge_code, filter_code, pricing_group from aggregated
    ) as aggregated
        on billing_filters.subscription_billing_id = aggregated.subscription_billing_id
        and billing_filters.charge_code = aggregated.charge_code
        and billing_filters.filter_code = aggregated.filter_code
    left join empty_groups on billing_filters.pricing_group_keys = empty_groups.pricing_group_keys
),

units as (
    select
        billing_charges.subscription_billing_id,
        billing_charges.billing_month,
        billing_charges.charges_period_start,
        billing_charges.charge_code,
        billing_charges.metric_code,
        billing_charges.aggregation,
        billing_charges.is_prorated,
        billing_charges.rounding_function,
        billing_charges.rounding_precision,
        buckets.filter_code,
        buckets.pricing_group,
        coalesce(aggregated.events_count, 0) as events_count,
        {{ as_decimal("case billing_charges.aggregation
            when 'count' then coalesce(aggregated.events_count, 0)
            when 'sum' then coalesce(aggregated.summed_value, 0)
            when 'max' then coalesce(aggregated.max_value, 0)
            when 'latest' then greatest(coalesce(latest_values.latest_value, 0), 0)
            when 'unique_count' then coalesce(unique_counts.unique_units, 0)
            when 'weighted_sum' then " ~ divide_exact(
                "coalesce(weighted_sums.level_seconds, 0) + coalesce(weighted_sums.initial_level, 0) * "
                ~ seconds_between('billing_charges.charges_from_at',
                    'coalesce(aggregated.first_window_event_at, billing_charges.charges_to_at)'),
                'billing_charges.charges_period_days * 86400') ~ "
        end") }} as aggregated_units,
        case when billing_charges.is_prorated then {{ as_decimal("case billing_charges.aggregation
            when 'sum' then " ~ round_units(
                'coalesce(aggregated.day_weighted_whole, 0) + ' ~ divide_exact(
                    'coalesce(aggregated.day_weighted_rest, 0)', 'billing_charges.charges_period_days'),
                "'ceil'", 5) ~ "
            when 'unique_count' then " ~ round_units('coalesce(unique_counts.prorated_unique_units, 0)', "'ceil'", 5) ~ "
        end") }} end as prorated_aggregated_units,
        {{ as_decimal('aggregated.dynamic_amount') }} as dynamic_amount,
        aggregated.first_event_at,
        aggregated.last_event_at
    from buckets
    inner join billing_charges
        on buckets.subscription_billing_id = billing_charges.subscription_billing_id
        and buckets.charge_code = billing_charges.charge_code
    left join aggregated
        on buckets.subscription_billing_id = aggregated.subscription_billing_id
        and buckets.charge_code = aggregated.charge_code
        and buckets.filter_code = aggregated.filter_code
        and buckets.pricing_group is not distinct from aggregated.pricing_group
    left join latest_values
        on buckets.subscription_billing_id = latest_values.subscription_billing_id
        and buckets.charge_code = latest_values.charge_code
        and buckets.filter_code = latest_values.filter_code
        and buckets.pricing_group is not distinct from latest_values.pricing_group
    left join unique_counts
        on buckets.subscription_billing_id = unique_counts.subscription_billing_id
        and buckets.charge_code = unique_counts.charge_code
        and buckets.filter_code = unique_counts.filter_code
        and buckets.pricing_group is not distinct from unique_counts.pricing_group
    left join weighted_sums
        on buckets.subscription_billing_id = weighted_sums.subscription_billing_id
        and buckets.charge_code = weighted_sums.charge_code
        and buckets.filter_code = weighted_sums.filter_code
        and buckets.pricing_group is not distinct from weighted_sums.pricing_group
)

select
    subscription_billing_id,
    billing_month,
    charges_period_start,
    charge_code,
    metric_code,
    aggregation,
    filter_code,
    pricing_group,
    events_count,
    aggregated_units,
    -- Metric rounding (§2) applies to the full and the prorated units alike.
    {{ as_decimal(round_units('aggregated_units', 'rounding_function', 'rounding_precision')) }} as units,
    {{ as_decimal(round_units('prorated_aggregated_units', 'rounding_function', 'rounding_precision')) }}
        as prorated_units,
    dynamic_amount,
    first_event_at,
    last_event_at
from units
