{#- The rating SQL shared by the close and by current usage (docs/current-usage.md): each macro is
    the body of one close model, with the rows it reads passed in, so that both price usage with
    the very same statements. The close passes its window of scheduled billings; current usage
    passes the period that holds its instant, and the events up to that instant. -#}

{% macro charge_events_bucketed(
    billing_charges_sql, events, filter_conditions, filter_children, charge_filters, pricing_group_keys,
    events_until=none
) -%}
{#-
    The events behind each in-arrears charge of the close window, in their buckets (docs/rules.md §2,
    §1.10, §1.11): one row per scheduled billing, charge, bucket and event. This is the close's one
    scan of the events table; the aggregates, the per-event charge models and the lineage of
    every charge line (docs/tables.md) read it.

    Recurring metrics have no lower time bound (§2): events from before the charges window are kept
    and flagged `is_carried_over`. Pay-in-advance charges are priced per event elsewhere; only
    their recurring units come back here, in full, on each period-end billing (§7).
-#}
with

billing_charges as (
    {{ billing_charges_sql }}
),

{#- No pre-filter on the events' time here: the join below applies each charge's own window.
    A filter against (select max(...) from billing_charges) made DuckDB estimate a few dozen
    events and build its join hash table on the events (every event with its properties, ~8 GB
    at 10M events, spilled to disk) instead of on the charges (issue #6). -#}
events as (
    select
        external_subscription_id,
        transaction_id,
        metric_code,
        properties,
        operation_type,
        precise_total_amount,
        event_at
    from {{ events }}
    {%- if events_until %}
    where event_at <= {{ events_until }}
    {%- endif %}
),

charged_events as {{ recomputed_cte() }} (
    select
        billing_charges.subscription_billing_id as scope_key,
        billing_charges.billing_month,
        billing_charges.charge_code,
        billing_charges.charge_pricing_group_keys,
        billing_charges.charges_period_start,
        billing_charges.aggregation,
        billing_charges.timezone,
        events.transaction_id,
        events.properties,
        events.operation_type,
        events.precise_total_amount,
        events.event_at,
        events.event_at < billing_charges.charges_from_at as is_carried_over,
        case when billing_charges.field_name is not null
            then {{ json_value_text('events.properties', 'billing_charges.field_name') }}
        end as value_text
    from billing_charges
    inner join events
        on billing_charges.external_subscription_id = events.external_subscription_id
        and billing_charges.metric_code = events.metric_code
        and {{ before_window_end('events.event_at', 'billing_charges.charges_to_at', 'billing_charges.is_end_served') }}
        and (events.event_at >= billing_charges.charges_from_at or billing_charges.is_recurring)
        -- A billing-day fee (§7) bills the units carried into its period, as of its first instant.
        and (not billing_charges.is_billing_day_fee or events.event_at < billing_charges.charges_from_at)
),

{{ bucketed_charge_events(
    'charged_events', 'bucketed', filter_conditions, filter_children, charge_filters, pricing_group_keys
) }}

select
    billing_month,
    scope_key as subscription_billing_id,
    charge_code,
    filter_code,
    pricing_group,
    transaction_id,
    event_at,
    {{ utc_to_local_date('event_at', 'timezone') }} as event_local_date,
    is_carried_over,
    -- A carried-over event of a weighted sum only sets the starting level: Lago counts the
    -- events of the window alone there (§2), and so does the line's events_count.
    not (is_carried_over and aggregation = 'weighted_sum') as is_counted,
    operation_type,
    value_text,
    -- Numeric aggregations read only values Lago's event store accepts as numbers (§2).
    case when aggregation <> 'count' and {{ is_numeric_text('value_text') }}
        then {{ event_number('value_text') }}
    end as value_number,
    precise_total_amount
from bucketed
-- Events that cannot move the units are not behind the line: values that are not numbers for
-- numeric aggregations (Lago's event store skips them), no value at all for unique_count, and
-- numbers too large to bill exactly (listed in billing.rejected_inputs instead).
where aggregation = 'count'
    or (aggregation = 'unique_count' and value_text is not null)
    or ({{ is_numeric_text('value_text') }} and {{ event_number('value_text') }} is not null)
{%- endmacro %}

{% macro charge_units_aggregated(billing_charges_sql, bucketed_relation, charge_filters, pricing_group_keys) -%}
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
    from {{ charge_filters }}
),

{#- The empty group of a list of group keys: every key null. -#}
empty_groups as (
    select
        pricing_group_keys,
        '{' || {{ string_agg_sorted(json_quote('group_key') ~ " || ':null'", "','") }} || '}' as pricing_group
    from {{ pricing_group_keys }}
    group by pricing_group_keys
),

billing_charges as (
    {{ billing_charges_sql }}
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
    from {{ bucketed_relation }} as bucketed
    inner join billing_charges
        on bucketed.subscription_billing_id = billing_charges.subscription_billing_id
        and bucketed.charge_code = billing_charges.charge_code
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
        sum(case when stretch_units = 1 then {{ divide_exact('active_days', 'charges_period_days') }} else 0 end)
            as prorated_unique_units
    from (
    {#- The active days as a column, the operand of divide_exact (nested exact macros get column
        operands, macros/money.sql). -#}
    select
        *,
        case when stretch_units = 1 then greatest(0, {{ days_between(
            "case when previous_active_to_date is not null
                and previous_active_to_date >= active_from_date
                then " ~ add_days('previous_active_to_date', 1) ~ " else active_from_date end",
            'active_to_date'
        ) }} + 1) end as active_days
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
        {{ sum_within_limit('prorated_whole_days', "'the prorated sum of' || " ~ usage_sum_subject) }}
            as day_weighted_whole,
        sum(prorated_rest_days) as day_weighted_rest,
        max(charges_period_days) as charges_period_days,
        min(event_at) as first_event_at,
        max(event_at) as last_event_at
    from (
        {#- The products as columns before they are summed (nested exact macros get column
            operands, macros/money.sql). -#}
        select
            *,
            {{ multiply_exact('prorated_whole', 'prorated_days') }} as prorated_whole_days,
            (value_number - {{ multiply_exact('prorated_whole', 'charges_period_days') }}) * prorated_days
                as prorated_rest_days
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
        ) as with_whole
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

{#- Each operand of an exact macro is a column of unit_operands (nested exact macros get
    column operands, macros/money.sql). -#}
units as (
    select
        subscription_billing_id,
        billing_month,
        charges_period_start,
        charge_code,
        metric_code,
        aggregation,
        is_prorated,
        rounding_function,
        rounding_precision,
        filter_code,
        pricing_group,
        events_count,
        {{ as_decimal("case aggregation
            when 'count' then events_count
            when 'sum' then coalesce(summed_value, 0)
            when 'max' then coalesce(max_value, 0)
            when 'latest' then greatest(coalesce(latest_value, 0), 0)
            when 'unique_count' then coalesce(unique_units, 0)
            when 'weighted_sum' then " ~ divide_exact('weighted_level_seconds', 'charges_period_days * 86400') ~ "
        end") }} as aggregated_units,
        case when is_prorated then {{ as_decimal("case aggregation
            when 'sum' then " ~ round_units('day_weighted_units', "'ceil'", 5) ~ "
            when 'unique_count' then " ~ round_units('coalesce(prorated_unique_units, 0)', "'ceil'", 5) ~ "
        end") }} end as prorated_aggregated_units,
        {{ as_decimal('dynamic_amount') }} as dynamic_amount,
        first_event_at,
        last_event_at
    from (
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
            billing_charges.charges_period_days,
            buckets.filter_code,
            buckets.pricing_group,
            coalesce(aggregated.events_count, 0) as events_count,
            aggregated.summed_value,
            aggregated.max_value,
            latest_values.latest_value,
            unique_counts.unique_units,
            unique_counts.prorated_unique_units,
            case when billing_charges.aggregation = 'weighted_sum' then
                coalesce(weighted_sums.level_seconds, 0) + coalesce(weighted_sums.initial_level, 0)
                * {{ seconds_between('billing_charges.charges_from_at',
                    'coalesce(aggregated.first_window_event_at, billing_charges.charges_to_at)') }}
            end as weighted_level_seconds,
            case when billing_charges.is_prorated and billing_charges.aggregation = 'sum' then
                coalesce(aggregated.day_weighted_whole, 0)
                + {{ divide_exact('coalesce(aggregated.day_weighted_rest, 0)', 'billing_charges.charges_period_days') }}
            end as day_weighted_units,
            aggregated.dynamic_amount,
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
    ) as unit_operands
),

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
{%- endmacro %}

{% macro charges_priced(usage_sql, billing_charges_sql, bucketed_relation, charges, charge_filters, charge_tiers) -%}
{#-
    The amount of each charge bucket for its units (docs/rules.md §1), unrounded, with the bucket's
    properties (a filter's own, falling back to its charge's, §1.11):
    standard, package, graduated, volume and graduated_percentage from the units
    (macros/charge_models.sql, the same rules as pay-in-advance pricing); percentage from the
    bucket's events in order (§1.5); dynamic from the events' own prices (§1.7); prorated
    charges from the prorated units (§2.1, §1.4), prorated graduated event by event (§1.9).
-#}
with

usage as (
    {{ usage_sql }}
),

billing_charges as (
    select
        subscription_billing_id, external_subscription_id, charge_code, charges_period_days,
        charges_from_date, charges_to_date
    from ({{ billing_charges_sql }}) as billing_charges_in_scope
),

charges as (
    select * from {{ charges }}
),

charge_filters as (
    select * from {{ charge_filters }}
),

buckets as (
    select
        usage.*,
        {{ hash_key(['usage.subscription_billing_id', 'usage.charge_code', 'usage.filter_code', 'usage.pricing_group']) }}
            as price_key,
        charges.charge_model,
        charges.is_prorated and not charges.is_pay_in_advance as is_prorated_charge,
        {%- for property in charge_property_names() %}
        coalesce(charge_filters.{{ property }}, charges.{{ property }}) as {{ property }},
        {%- endfor %}
        usage.charges_period_start as tier_date
    from usage
    inner join charges
        on usage.charge_code = charges.charge_code
        and usage.charges_period_start >= charges.valid_from
        and usage.charges_period_start < charges.valid_to
    left join charge_filters
        on usage.charge_code = charge_filters.charge_code
        and usage.filter_code = charge_filters.filter_code
        and usage.charges_period_start >= charge_filters.valid_from
        and usage.charges_period_start < charge_filters.valid_to
),

unit_priced_input as (
    select
        price_key,
        charge_code,
        filter_code,
        tier_date,
        charge_model,
        case when is_prorated_charge then prorated_units else units end as units,
        units as tier_units,
        amount,
        package_size,
        free_units
    from buckets
    where charge_model in ('standard', 'package', 'volume', 'graduated_percentage')
        or (charge_model = 'graduated' and not is_prorated_charge)
),

{{ charge_model_amounts('unit_priced_input', 'unit_priced', charge_tiers) }},

events as (
    select
        buckets.price_key,
        buckets.charge_model,
        buckets.rate,
        buckets.fixed_amount,
        coalesce(buckets.free_units_per_events, 0) as free_events_limit,
        coalesce(buckets.free_units_per_total_aggregation, 0) as free_amount_limit,
        buckets.per_transaction_min_amount,
        buckets.per_transaction_max_amount,
        buckets.charges_period_start,
        buckets.charge_code,
        buckets.metric_code,
        buckets.filter_code,
        billing_charges.external_subscription_id,
        billing_charges.charges_period_days,
        billing_charges.charges_from_date,
        billing_charges.charges_to_date,
        bucketed.transaction_id,
        bucketed.event_at,
        bucketed.event_local_date,
        bucketed.is_carried_over,
        coalesce(bucketed.value_number, 0) as value_number
    from buckets
    inner join billing_charges
        on buckets.subscription_billing_id = billing_charges.subscription_billing_id
        and buckets.charge_code = billing_charges.charge_code
    inner join {{ bucketed_relation }} as bucketed
        on buckets.subscription_billing_id = bucketed.subscription_billing_id
        and buckets.charge_code = bucketed.charge_code
        and buckets.filter_code = bucketed.filter_code
        and buckets.pricing_group is not distinct from bucketed.pricing_group
    where buckets.charge_model = 'percentage'
        or (buckets.charge_model = 'graduated' and buckets.is_prorated_charge)
),

{#- Percentage (§1.5): running totals, in event order, feed the free units and free events. -#}
percentage_events as (
    select
        *,
        row_number() over event_order as event_position,
        sum(value_number) over event_order as running_total,
        max(sum_before) over event_order as max_running_total_before
    from (
        select
            *,
            coalesce(sum(value_number) over (
                partition by price_key order by event_at, transaction_id
                rows between unbounded preceding and 1 preceding
            ), 0) as sum_before
        from events
        where charge_model = 'percentage'
    ) as with_sum_before
    window event_order as (
        partition by price_key order by event_at, transaction_id rows between unbounded preceding and current row
    )
),

percentage_flags as (
    select *, {{ percentage_paying_price() }} as paying_price
    from (
        select *, {{ percentage_paying_product() }} as paying_product
        from (select *, {{ percentage_event_flags() }} from percentage_events) as flagged
    ) as with_product
),

percentage_sums as (
    select
        price_key,
        max(free_events_limit) as free_events_limit,
        max(free_amount_limit) as free_amount_limit,
        count(case when is_in_running_total then 1 end) as running_total_size,
        sum(case when is_in_running_total then value_number else 0 end) as last_running_total,
        count(case when is_in_running_total and running_total < free_amount_limit then 1 end)
            as running_totals_below_free_amount,
        sum({{ percentage_paying_event_amount() }}) as per_transaction_amount
    from percentage_flags
    group by price_key
),

percentage_free_units as (
    select
        price_key,
        per_transaction_amount,
        {{ percentage_free_units('running_total_size', 'last_running_total', 'running_totals_below_free_amount') }}
    from percentage_sums
),

percentage_amounts as (
    select
        price_key,
        {{ percentage_amount(
            'units', 'events_count', 'free_value', 'free_events', 'per_transaction_amount', 'percentage_product') }}
            as model_amount
    from (
        select *, {{ percentage_amount_product('units', 'free_value') }} as percentage_product
        from (
            select
                buckets.price_key,
                buckets.units,
                buckets.events_count,
                buckets.rate,
                buckets.fixed_amount,
                buckets.per_transaction_min_amount,
                buckets.per_transaction_max_amount,
                coalesce(free.free_value, 0) as free_value,
                coalesce(free.free_events, 0) as free_events,
                free.per_transaction_amount
            from buckets
            left join percentage_free_units as free on buckets.price_key = free.price_key
            where buckets.charge_model = 'percentage'
        ) as percentage_buckets
    ) as with_product
),

{#- Prorated graduated (§1.9): cumulative full units place each event's units in the tiers; its
    prorated share of them is priced; flat fees of every tier reached are billed in full. The
    price of an event's units in a tier is prorated like the event (units x price x active days
    / period days, prorate_exact: exact for every amount that fits 29 integer digits,
    docs/bad-input.md). -#}
prorated_events as (
    select
        *,
        case
            when is_carried_over then {{ days_between('charges_from_date', 'charges_to_date') }} + 1
            else {{ days_between('event_local_date', 'charges_to_date') }} + 1
        end as prorated_days,
        sum(value_number) over (
            partition by price_key order by is_carried_over desc, event_at, transaction_id
            rows between unbounded preceding and current row
        ) as cumulative_units
    from events
    where charge_model = 'graduated'
),

prorated_tier_sets as (
    {{ tier_set_in_force(
        'buckets', "buckets.charge_model = 'graduated' and buckets.is_prorated_charge", charge_tiers
    ) }}
),

prorated_tiers as (
    select
        prorated_events.price_key,
        prorated_events.charge_code,
        prorated_events.metric_code,
        prorated_events.external_subscription_id,
        prorated_events.value_number,
        prorated_events.prorated_days,
        prorated_events.charges_period_days,
        prorated_events.cumulative_units - prorated_events.value_number as units_before,
        prorated_events.cumulative_units,
        tiers.tier_rank,
        case when tiers.tier_rank = 1 then 0 else tiers.previous_to_value end as tier_floor,
        tiers.to_value as tier_ceiling,
        tiers.per_unit_amount,
        tiers.flat_amount
    from prorated_events
    inner join prorated_tier_sets as tier_sets on prorated_events.price_key = tier_sets.price_key
    inner join {{ charge_tiers }} as tiers
        on prorated_events.charge_code = tiers.charge_code
        and tier_sets.tier_filter_code = tiers.filter_code
        and tier_sets.tier_valid_from = tiers.valid_from
),

prorated_graduated_amounts as (
    select
        buckets.price_key,
        greatest(coalesce(units.unit_amount, 0) + coalesce(flats.flat_amount, first_flat.flat_amount, 0), 0)
            as model_amount
    from buckets
    left join (
        select
            price_key,
            {{ sum_within_limit('tier_amount',
                "'the prorated graduated amount of metric ' || any_value(metric_code) || ' for subscription '"
                ~ " || any_value(external_subscription_id) || ' (charge ' || any_value(charge_code) || ')'") }}
                as unit_amount
        from (
            select
                *,
                {{ prorate_exact('tier_full_amount', 'prorated_days', 'charges_period_days',
                    'tier_amount_whole', 'tier_amount_rest') }} as tier_amount
            from (
                select *, {{ prorate_rest('tier_full_amount', 'charges_period_days', 'tier_amount_whole') }}
                    as tier_amount_rest
                from (
                    select *, {{ prorate_whole('tier_full_amount', 'charges_period_days') }} as tier_amount_whole
                    from (
                        select *, {{ multiply_exact('tier_units', 'per_unit_amount') }} as tier_full_amount
                        from (
                            select
                                *,
                                least(greatest(cumulative_units, tier_floor), coalesce(tier_ceiling, greatest(cumulative_units, tier_floor)))
                                - least(greatest(units_before, tier_floor), coalesce(tier_ceiling, greatest(units_before, tier_floor)))
                                    as tier_units
                            from prorated_tiers
                        ) as tier_units
                    ) as tier_amounts
                ) as tier_wholes
            ) as tier_rests
        ) as tier_shares
        group by price_key
    ) as units on buckets.price_key = units.price_key
    left join (
        select price_key, sum(flat_amount) as flat_amount
        from (
            select distinct price_key, tier_rank, flat_amount, tier_floor,
                max(cumulative_units) over (partition by price_key) as max_cumulative_units
            from prorated_tiers
        ) as reached
        where tier_rank = 1 or tier_floor < max_cumulative_units
        group by price_key
    ) as flats on buckets.price_key = flats.price_key
    -- No events: the first tier's flat fee alone (§18.1).
    left join prorated_tier_sets as tier_sets on buckets.price_key = tier_sets.price_key
    left join {{ charge_tiers }} as first_flat
        on buckets.charge_code = first_flat.charge_code
        and tier_sets.tier_filter_code = first_flat.filter_code
        and tier_sets.tier_valid_from = first_flat.valid_from
        and first_flat.tier_rank = 1
    where buckets.charge_model = 'graduated' and buckets.is_prorated_charge
),

priced as (
    select
        buckets.*,
        {{ as_decimal("coalesce(case
            when buckets.charge_model = 'percentage' then percentage_amounts.model_amount
            when buckets.charge_model = 'dynamic' then case when buckets.units = 0 then 0 else buckets.dynamic_amount end
            when buckets.charge_model = 'graduated' and buckets.is_prorated_charge
                then prorated_graduated_amounts.model_amount
            else unit_priced.model_amount
        end, 0)") }} as priced_amount,
        unit_priced.paid_units
    from buckets
    left join unit_priced on buckets.price_key = unit_priced.price_key
    left join percentage_amounts on buckets.price_key = percentage_amounts.price_key
    left join prorated_graduated_amounts on buckets.price_key = prorated_graduated_amounts.price_key
)

select
    subscription_billing_id,
    billing_month,
    charge_code,
    metric_code,
    charge_model,
    filter_code,
    pricing_group,
    events_count,
    -- §2.1: a prorated charge reports its full units; the prorated ones only price it.
    units,
    priced_amount as amount,
    -- Rule book §1: amount / units (package: / paid units), 0 when there are none.
    {{ as_decimal(
        "case when coalesce(paid_units, units) = 0 then 0 else "
        ~ divide_exact('priced_amount', 'coalesce(paid_units, units)') ~ " end"
    ) }} as unit_amount,
    first_event_at,
    last_event_at
from priced
{%- endmacro %}

{% macro pay_in_advance_fees_priced(
    periods_sql, events, charges, billable_metrics, charge_filters, charge_tiers, filter_conditions,
    filter_children, pricing_group_keys, events_until=none, in_close_window=true
) -%}
{#-
    Pay-in-advance charge fees (docs/rules.md §7): one fee per event, dated by the event, in the close
    month that holds the event's local date (docs/conventions.md). Its amount is the difference the
    event makes: the charge model on the units including the event minus the model on the units
    excluding it, the baseline forced to 0 at zero prior units so that the first event pays a
    first tier's flat fee.

    - count: each event adds one unit;
    - sum: only what raises the period's high-water mark of the running total (§18.9);
    - unique_count: an add of a value not active and not already paid for in the period;
    - percentage: the model on the events up to and including this one, minus up to the one
      before (free units and per-transaction limits follow the sequence);
    - dynamic: the event's own price;
    - prorated (standard only): the added units times the days left in the period, today
      included, over the period length, ceil at 5 decimals (§2.1).
    Recurring charges also bill their full units on each later billing day (§7); that fee is an
    in-arrears line of the period-end invoice (int_charges_priced).
-#}
with

-- Every charges period of a phase that overlaps the close window, once.
period_windows as (
    select distinct
        external_subscription_id,
        requested_at,
        external_customer_id,
        plan_code,
        currency,
        timezone,
        charges_period_start,
        charges_period_end,
        charges_period_days,
        charges_from_at,
        charges_to_at,
        is_end_served
    from ({{ periods_sql }}) as periods_in_scope
),

charges as (
    select * from {{ charges }} where is_pay_in_advance
),

metrics as (
    select metric_code, aggregation, field_name, is_recurring, valid_from, valid_to
    from {{ billable_metrics }}
),

period_charges as (
    select
        {{ hash_key(['period_windows.external_subscription_id', 'period_windows.requested_at', 'period_windows.charges_period_start']) }}
            as scope_key,
        period_windows.*,
        charges.charge_code,
        charges.charge_model,
        charges.metric_code,
        charges.pricing_group_keys as charge_pricing_group_keys,
        charges.is_invoiceable,
        charges.is_prorated,
        metrics.aggregation,
        metrics.field_name,
        metrics.is_recurring
    from period_windows
    inner join charges
        on period_windows.plan_code = charges.plan_code
        and period_windows.charges_period_start >= charges.valid_from
        and period_windows.charges_period_start < charges.valid_to
    inner join metrics
        on charges.metric_code = metrics.metric_code
        and period_windows.charges_period_start >= metrics.valid_from
        and period_windows.charges_period_start < metrics.valid_to
    where {{ window_is_open('period_windows.charges_from_at', 'period_windows.charges_to_at', 'period_windows.is_end_served') }}
),

charged_events as {{ recomputed_cte() }} (
    select
        period_charges.scope_key,
        period_charges.charge_code,
        period_charges.charge_pricing_group_keys,
        period_charges.charges_period_start,
        period_charges.aggregation,
        events.transaction_id,
        events.properties,
        events.operation_type,
        events.precise_total_amount,
        events.event_at,
        events.event_at < period_charges.charges_from_at as is_carried_over,
        case when period_charges.field_name is not null
            then {{ json_value_text('events.properties', 'period_charges.field_name') }}
        end as value_text
    from period_charges
    inner join {{ events }} as events
        on period_charges.external_subscription_id = events.external_subscription_id
        {%- if events_until %}
        and events.event_at <= {{ events_until }}
        {%- endif %}
        and period_charges.metric_code = events.metric_code
        and {{ before_window_end('events.event_at', 'period_charges.charges_to_at', 'period_charges.is_end_served') }}
        and (events.event_at >= period_charges.charges_from_at or period_charges.is_recurring)
),

{{ bucketed_charge_events(
    'charged_events', 'bucketed', filter_conditions, filter_children, charge_filters, pricing_group_keys
) }},

valued_events as (
    select
        bucketed.scope_key,
        bucketed.charge_code,
        bucketed.filter_code,
        bucketed.pricing_group,
        bucketed.transaction_id,
        bucketed.event_at,
        bucketed.is_carried_over,
        bucketed.operation_type,
        bucketed.value_text,
        bucketed.precise_total_amount,
        case when bucketed.aggregation <> 'count' and {{ is_numeric_text('bucketed.value_text') }}
            then {{ event_number('bucketed.value_text') }} else 0 end as value_number,
        case when bucketed.aggregation = 'unique_count' and bucketed.value_text is not null then
            lag(bucketed.operation_type) over (
                partition by bucketed.scope_key, bucketed.charge_code, bucketed.filter_code,
                    bucketed.pricing_group, bucketed.value_text
                order by bucketed.event_at, bucketed.transaction_id
            )
        end as previous_operation_type,
        case when bucketed.aggregation = 'unique_count' and bucketed.value_text is not null then
            count(case when not bucketed.is_carried_over and bucketed.operation_type = 'add' then 1 end) over (
                partition by bucketed.scope_key, bucketed.charge_code, bucketed.filter_code,
                    bucketed.pricing_group, bucketed.value_text
                order by bucketed.event_at, bucketed.transaction_id
                rows between unbounded preceding and 1 preceding
            )
        end as earlier_adds_in_period
    from bucketed
    where bucketed.aggregation = 'count'
        or (bucketed.aggregation = 'unique_count' and bucketed.value_text is not null)
        or ({{ is_numeric_text('bucketed.value_text') }} and {{ event_number('bucketed.value_text') }} is not null)
),

stepped_events as (
    select
        *,
        -- The units the event adds (§7).
        case aggregation
            when 'count' then 1
            when 'sum' then high_water_mark - coalesce(lag(high_water_mark) over bucket_order, 0)
            when 'unique_count' then case
                when operation_type = 'add' and coalesce(previous_operation_type, 'remove') <> 'add'
                    and earlier_adds_in_period = 0 then 1
                else 0 end
            else value_number
        end as added_units,
        -- The units the fee shows: for unique_count, 1 for an add that makes the value active,
        -- even when the value was already paid in the period and the fee is 0 (Lago displays
        -- the applied unit of such a zero fee; §7).
        case when aggregation = 'unique_count' then case
                when operation_type = 'add' and coalesce(previous_operation_type, 'remove') <> 'add' then 1
                else 0 end
        end as fee_units
    from (
        select
            valued_events.*,
            period_charges.aggregation,
            -- The units including this event: the period's (and for recurring metrics, the
            -- carried) running total, count or active values.
            case period_charges.aggregation
                when 'count' then count(*) over bucket_order
                when 'sum' then sum(valued_events.value_number) over bucket_order
                when 'unique_count' then sum(case
                    when valued_events.operation_type = 'add' and coalesce(valued_events.previous_operation_type, 'remove') <> 'add' then 1
                    when valued_events.operation_type = 'remove' and valued_events.previous_operation_type = 'add' then -1
                    else 0 end) over bucket_order
                else sum(valued_events.value_number) over bucket_order
            end as units_including,
            greatest(0, max(case when valued_events.is_carried_over then 0 else period_running_total end) over bucket_order)
                as high_water_mark
        from (
            select
                *,
                sum(case when is_carried_over then 0 else value_number end) over (
                    partition by scope_key, charge_code, filter_code, pricing_group
                    order by is_carried_over desc, event_at, transaction_id
                    rows between unbounded preceding and current row
                ) as period_running_total
            from valued_events
        ) as valued_events
        inner join period_charges
            on valued_events.scope_key = period_charges.scope_key
            and valued_events.charge_code = period_charges.charge_code
        window bucket_order as (
            partition by valued_events.scope_key, valued_events.charge_code, valued_events.filter_code,
                valued_events.pricing_group
            order by valued_events.is_carried_over desc, valued_events.event_at, valued_events.transaction_id
            rows between unbounded preceding and current row
        )
    ) as with_units
    window bucket_order as (
        partition by scope_key, charge_code, filter_code, pricing_group
        order by is_carried_over desc, event_at, transaction_id
    )
),

fee_events as (
    select
        stepped_events.*,
        period_charges.external_subscription_id,
        period_charges.external_customer_id,
        period_charges.plan_code,
        period_charges.currency,
        period_charges.timezone,
        period_charges.charge_model,
        period_charges.metric_code,
        period_charges.is_invoiceable,
        period_charges.is_prorated,
        period_charges.charges_period_start,
        period_charges.charges_period_end,
        period_charges.charges_period_days,
        period_charges.charges_from_at,
        period_charges.charges_to_at,
        {{ utc_to_local_date('stepped_events.event_at', 'period_charges.timezone') }} as event_local_date,
        {{ hash_key(['stepped_events.scope_key', 'stepped_events.charge_code', 'stepped_events.filter_code',
            'stepped_events.pricing_group', 'stepped_events.transaction_id']) }} as fee_key
    from stepped_events
    inner join period_charges
        on stepped_events.scope_key = period_charges.scope_key
        and stepped_events.charge_code = period_charges.charge_code
    where not stepped_events.is_carried_over
),

priced_fee_events as (
    select
        fee_events.*,
        {%- for property in charge_property_names() %}
        coalesce(charge_filters.{{ property }}, charges.{{ property }}) as {{ property }},
        {%- endfor %}
        -- Exact for any units that fit 29 integer digits (prorate_exact, docs/bad-input.md).
        case when fee_events.is_prorated then {{ round_units('fee_events.exact_prorated_added_units', "'ceil'", 5) }}
        end as prorated_added_units
    from (
        {#- Each step a column of the step before (nested exact macros get column operands,
            money.sql). -#}
        select
            *,
            case when is_prorated then {{ prorate_exact('added_units', 'prorated_days', 'charges_period_days',
                'added_units_whole', 'added_units_rest') }} end as exact_prorated_added_units
        from (
            select
                *,
                case when is_prorated then {{ prorate_rest('added_units', 'charges_period_days', 'added_units_whole') }}
                end as added_units_rest,
                case when is_prorated then {{ days_between('event_local_date', 'charges_period_end') }} + 1
                end as prorated_days
            from (
                select *, {{ prorate_whole('added_units', 'charges_period_days') }} as added_units_whole
                from fee_events
            ) as with_whole
        ) as with_rest
    ) as fee_events
    inner join charges
        on fee_events.charge_code = charges.charge_code
        and fee_events.charges_period_start >= charges.valid_from
        and fee_events.charges_period_start < charges.valid_to
    left join {{ charge_filters }} as charge_filters
        on fee_events.charge_code = charge_filters.charge_code
        and fee_events.filter_code = charge_filters.filter_code
        and fee_events.charges_period_start >= charge_filters.valid_from
        and fee_events.charges_period_start < charge_filters.valid_to
),

{#- The unit-priced models, before and after each event. -#}
unit_priced_input as (
    select
        fee_key || ':with' as price_key, charge_code, filter_code, charges_period_start as tier_date,
        charge_model, {{ as_decimal('units_including') }} as units, {{ as_decimal('units_including') }} as tier_units,
        amount, package_size, free_units
    from priced_fee_events
    where charge_model in ('standard', 'package', 'graduated', 'graduated_percentage')
    union all
    select
        fee_key || ':without', charge_code, filter_code, charges_period_start,
        charge_model, {{ as_decimal('units_including - added_units') }}, {{ as_decimal('units_including - added_units') }},
        amount, package_size, free_units
    from priced_fee_events
    where charge_model in ('standard', 'package', 'graduated', 'graduated_percentage')
),

{{ charge_model_amounts('unit_priced_input', 'unit_priced', charge_tiers) }},

{#- Percentage (§1.5) along the sequence: the model on events 1..n, for each n. -#}
percentage_sequence as (
    select
        *,
        max(sum_before) over event_order as max_running_total_before
    from (
        select
            priced_fee_events.*,
            coalesce(priced_fee_events.free_units_per_events, 0) as free_events_limit,
            coalesce(priced_fee_events.free_units_per_total_aggregation, 0) as free_amount_limit,
            row_number() over event_order as event_position,
            sum(value_number) over event_order as running_total,
            coalesce(sum(value_number) over (
                partition by scope_key, charge_code, filter_code, pricing_group
                order by event_at, transaction_id rows between unbounded preceding and 1 preceding
            ), 0) as sum_before
        from priced_fee_events
        where charge_model = 'percentage'
        window event_order as (
            partition by scope_key, charge_code, filter_code, pricing_group
            order by event_at, transaction_id rows between unbounded preceding and current row
        )
    ) as ordered
    window event_order as (
        partition by scope_key, charge_code, filter_code, pricing_group
        order by event_at, transaction_id rows between unbounded preceding and current row
    )
),

percentage_flags as (
    select *, {{ percentage_paying_price() }} as paying_price
    from (
        select *, {{ percentage_paying_product() }} as paying_product
        from (select *, {{ percentage_event_flags() }} from percentage_sequence) as flagged
    ) as with_product
),

percentage_prefixes as (
    select
        *,
        -- Lago's running total is a prefix of the events: its size, last value and values
        -- below the free amount, as of this event.
        count(case when is_in_running_total then 1 end) over event_order as running_total_size,
        sum(case when is_in_running_total then value_number else 0 end) over event_order as last_running_total,
        count(case when is_in_running_total and running_total < free_amount_limit then 1 end) over event_order
            as running_totals_below_free_amount,
        sum({{ percentage_paying_event_amount() }}) over event_order as per_transaction_amount
    from percentage_flags
    window event_order as (
        partition by scope_key, charge_code, filter_code, pricing_group
        order by event_at, transaction_id rows between unbounded preceding and current row
    )
),

percentage_amounts as (
    select
        fee_key,
        model_amount - coalesce(lag(model_amount) over (
            partition by scope_key, charge_code, filter_code, pricing_group order by event_at, transaction_id
        ), 0) as fee_amount
    from (
        select
            *,
            {{ percentage_amount(
                'running_total', 'event_position', 'free_value', 'free_events', 'per_transaction_amount',
                'percentage_product') }}
                as model_amount
        from (
            select *, {{ percentage_amount_product('running_total', 'free_value') }} as percentage_product
            from (
                select
                    *,
                    {{ percentage_free_units('running_total_size', 'last_running_total', 'running_totals_below_free_amount') }}
                from percentage_prefixes
            ) as with_free_units
        ) as with_product
    ) as with_model
),

fees as (
    select
        priced_fee_events.*,
        {{ as_decimal("case
            when priced_fee_events.charge_model = 'dynamic' then coalesce(priced_fee_events.precise_total_amount, 0)
            when priced_fee_events.charge_model = 'percentage' then percentage_amounts.fee_amount
            when priced_fee_events.is_prorated
                then " ~ multiply_exact('priced_fee_events.prorated_added_units', 'priced_fee_events.amount') ~ "
            else with_event.model_amount
                - case when priced_fee_events.units_including - priced_fee_events.added_units = 0 then 0
                    else without_event.model_amount end
        end") }} as precise_amount
    from priced_fee_events
    left join unit_priced as with_event on priced_fee_events.fee_key || ':with' = with_event.price_key
    left join unit_priced as without_event on priced_fee_events.fee_key || ':without' = without_event.price_key
    left join percentage_amounts on priced_fee_events.fee_key = percentage_amounts.fee_key
)

select
    fee_key,
    {{ trunc_date('month', 'event_local_date') }} as billing_month,
    event_local_date as issuing_date,
    case when is_invoiceable then {{ hash_key([
        'external_customer_id', 'currency', 'event_local_date', "'pay_in_advance'",
        'external_subscription_id', 'charge_code', 'filter_code', 'pricing_group', 'transaction_id',
    ]) }} end as invoice_id,
    external_customer_id,
    external_subscription_id,
    plan_code,
    currency,
    charge_code,
    metric_code,
    charge_model,
    filter_code,
    pricing_group,
    transaction_id,
    event_at,
    {{ as_decimal('coalesce(fee_units, added_units)') }} as units,
    precise_amount,
    charges_period_start,
    charges_period_end,
    charges_from_at,
    charges_to_at
from fees
{%- if in_close_window %}
where event_local_date >= {{ billing_period_start() }}
    and event_local_date < {{ billing_period_end() }}
{%- endif %}
{%- endmacro %}
