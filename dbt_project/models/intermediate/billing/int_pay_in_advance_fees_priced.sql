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
    from {{ ref('int_subscription_charges_periods') }}
    where billing_month >= {{ billing_period_start() }} and billing_month < {{ billing_period_end() }}
),

charges as (
    select * from {{ ref('stg_catalog__charges') }} where is_pay_in_advance
),

metrics as (
    select metric_code, aggregation, field_name, is_recurring, valid_from, valid_to
    from {{ ref('stg_catalog__billable_metrics') }}
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
    inner join {{ ref('stg_landing__events') }} as events
        on period_charges.external_subscription_id = events.external_subscription_id
        and period_charges.metric_code = events.metric_code
        and {{ before_window_end('events.event_at', 'period_charges.charges_to_at', 'period_charges.is_end_served') }}
        and (events.event_at >= period_charges.charges_from_at or period_charges.is_recurring)
),

{{ bucketed_charge_events('charged_events', 'bucketed') }},

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
        case when fee_events.is_prorated then {{ round_units(
            prorate_exact('fee_events.added_units',
                days_between('fee_events.event_local_date', 'fee_events.charges_period_end') ~ ' + 1',
                'fee_events.charges_period_days', 'fee_events.added_units_whole'),
            "'ceil'", 5) }}
        end as prorated_added_units
    from (
        select *, {{ prorate_whole('added_units', 'charges_period_days') }} as added_units_whole
        from fee_events
    ) as fee_events
    inner join charges
        on fee_events.charge_code = charges.charge_code
        and fee_events.charges_period_start >= charges.valid_from
        and fee_events.charges_period_start < charges.valid_to
    left join {{ ref('stg_catalog__charge_filters') }} as charge_filters
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

{{ charge_model_amounts('unit_priced_input', 'unit_priced') }},

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
    select *, {{ percentage_event_flags() }}
    from percentage_sequence
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
                'running_total', 'event_position', 'free_value', 'free_events', 'per_transaction_amount') }}
                as model_amount
        from (
            select
                *,
                {{ percentage_free_units('running_total_size', 'last_running_total', 'running_totals_below_free_amount') }}
            from percentage_prefixes
        ) as with_free_units
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
where event_local_date >= {{ billing_period_start() }}
    and event_local_date < {{ billing_period_end() }}
