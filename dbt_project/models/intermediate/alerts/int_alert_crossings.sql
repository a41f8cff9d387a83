{{ config(tags=['alerts']) }}
{#
    The thresholds each evaluation crossed (docs/rules.md §21.3), one row per crossed value, with
    the thresholds of the alert's version in force at that evaluation. p = previous value,
    c = current value, T = the one-time values, r = the recurring step:
    - increasing: nothing when c <= p, or when c < min(T); else each t of T with p < t <= c, and
      b + k*r for k = max(ceil((p - b) / r), 1) .. floor((c - b) / r), b = max(T) (0 without T);
    - decreasing, mirrored: nothing when c >= p, or when c > max(T); each t with c <= t < p, and
      b - k*r for k = max(ceil((b - p) / r), 1) .. floor((b - c) / r), b = min(T) (0 without T);
    - a value crossed both ways is reported once, as one-time.
-#}
with

evaluations as (
    select evaluation_id, alert_id, version_updated_at, direction, previous_value, current_value
    from {{ ref('int_alert_evaluations') }}
    where current_value <> previous_value
),

{# Every row of the version each evaluation used (it passed then), whatever came later. #}
thresholds as (
    select distinct alert_id, version_updated_at, threshold_code, threshold_value, is_recurring
    from {{ ref('int_alerts_validated') }}
),

one_time as (
    select * from thresholds
    where not is_recurring
),

bounds as (
    select
        evaluations.evaluation_id,
        evaluations.alert_id,
        evaluations.version_updated_at,
        evaluations.direction,
        evaluations.previous_value,
        evaluations.current_value,
        min(one_time.threshold_value) as lowest_value,
        max(one_time.threshold_value) as highest_value
    from evaluations
    left join one_time
        on evaluations.alert_id = one_time.alert_id
        and evaluations.version_updated_at = one_time.version_updated_at
    group by
        evaluations.evaluation_id, evaluations.alert_id, evaluations.version_updated_at,
        evaluations.direction, evaluations.previous_value, evaluations.current_value
),

eligible as (
    select *
    from bounds
    where (
        direction = 'increasing' and current_value > previous_value
        and (lowest_value is null or current_value >= lowest_value)
    )
    or (
        direction = 'decreasing' and current_value < previous_value
        and (highest_value is null or current_value <= highest_value)
    )
),

one_time_crossed as (
    select
        eligible.evaluation_id,
        one_time.threshold_code,
        one_time.threshold_value,
        false as is_recurring
    from eligible
    inner join one_time
        on eligible.alert_id = one_time.alert_id
        and eligible.version_updated_at = one_time.version_updated_at
    where (
        eligible.direction = 'increasing'
        and one_time.threshold_value > eligible.previous_value
        and one_time.threshold_value <= eligible.current_value
    )
    or (
        eligible.direction = 'decreasing'
        and one_time.threshold_value >= eligible.current_value
        and one_time.threshold_value < eligible.previous_value
    )
),

{# Steps are counted from the base: k from the previous value's side, k_last from the current's.
    `from_base` are the distances (p - b, c - b increasing; b - p, b - c decreasing). -#}
recurring_distances as (
    select
        eligible.evaluation_id,
        eligible.direction,
        thresholds.threshold_code,
        thresholds.threshold_value as step,
        case when eligible.direction = 'increasing' then coalesce(eligible.highest_value, 0)
            else coalesce(eligible.lowest_value, 0)
        end as base_value,
        {{ as_decimal("case when eligible.direction = 'increasing'"
            ~ " then coalesce(eligible.highest_value, 0) - eligible.previous_value"
            ~ " else eligible.previous_value - coalesce(eligible.lowest_value, 0) end") }} as negated_previous_distance,
        {{ as_decimal("case when eligible.direction = 'increasing'"
            ~ " then eligible.current_value - coalesce(eligible.highest_value, 0)"
            ~ " else coalesce(eligible.lowest_value, 0) - eligible.current_value end") }} as current_distance
    from eligible
    inner join thresholds
        on eligible.alert_id = thresholds.alert_id
        and eligible.version_updated_at = thresholds.version_updated_at
        and thresholds.is_recurring
),

approximated as (
    select
        *,
        floor({{ divide_exact('negated_previous_distance', 'step') }}) as approximate_first,
        floor({{ divide_exact('current_distance', 'step') }}) as approximate_last
    from recurring_distances
),

step_ranges as (
    select
        evaluation_id,
        direction,
        threshold_code,
        step,
        base_value,
        {# ceil(x / r) = -floor(-x / r) #}
        greatest(-{{ floor_quotient('negated_previous_distance', 'step', 'approximate_first') }}, 1) as first_step,
        {{ floor_quotient('current_distance', 'step', 'approximate_last') }} as last_step
    from approximated
),

{# At most the last 1 000 steps of one evaluation are listed (docs/deviations.md): a tiny step
    and a large jump would otherwise make millions of rows. -#}
steps as (
    select
        evaluation_id,
        direction,
        threshold_code,
        step,
        base_value,
        {{ integer_steps('greatest(first_step, last_step - 999)', 'last_step') }} as step_number
    from step_ranges
    where first_step <= last_step
),

recurring_crossed as (
    select
        evaluation_id,
        threshold_code,
        {{ as_decimal("case when direction = 'increasing' then base_value + "
            ~ multiply_exact('step_number', 'step') ~ " else base_value - "
            ~ multiply_exact('step_number', 'step') ~ " end") }} as threshold_value,
        true as is_recurring
    from steps
)

select evaluation_id, threshold_code, threshold_value, is_recurring
from one_time_crossed
union all
select
    recurring_crossed.evaluation_id,
    recurring_crossed.threshold_code,
    recurring_crossed.threshold_value,
    true as is_recurring
from recurring_crossed
left join one_time_crossed
    on recurring_crossed.evaluation_id = one_time_crossed.evaluation_id
    and recurring_crossed.threshold_value = one_time_crossed.threshold_value
where one_time_crossed.evaluation_id is null
