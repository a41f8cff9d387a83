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
    select *
    from {{ ref('int_subscription_billing_charges') }}
    where billing_month >= {{ billing_period_start() }} and billing_month < {{ billing_period_end() }}
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
    from {{ ref('stg_landing__events') }}
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

{{ bucketed_charge_events('charged_events', 'bucketed') }}

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
