{{ config(
    materialized='incremental',
    incremental_strategy='append',
    on_schema_change='fail',
    full_refresh=false,
    tags=['alerts'],
) }}
{#
    The evaluation log of usage alerts (docs/rules.md §21.4, §21.5): one row per alert with a
    value per run that evaluates alerts (every usage refresh and every close), never rebuilt (a
    --full-refresh keeps it). The previous value of an evaluation is the current value of the
    alert's last evaluation: an alert skipped in a run (no value) keeps it. A new alert starts at
    0 when its values increase (subscription alerts), at its current value when they decrease
    (wallet alerts), as in Lago.
-#}
with

alert_values as (
    select * from {{ ref('int_alert_values') }}
),

run as (
    select {{ utc_now() }} as evaluated_at
),

last_evaluations as (
    {{ last_evaluations('alert_id', 'current_value', as_decimal('null')) }}
),

evaluated as (
    select
        alert_values.*,
        coalesce(
            last_evaluations.current_value,
            case when alert_values.direction = 'increasing' then 0 else alert_values.current_value end
        ) as previous_value,
        run.evaluated_at
    from alert_values
    cross join run
    left join last_evaluations on alert_values.alert_id = last_evaluations.alert_id
)

select
    {{ hash_key(['alert_id', 'evaluated_at']) }} as evaluation_id,
    alert_id,
    alert_code,
    alert_name,
    alert_type,
    direction,
    target_kind,
    external_subscription_id,
    wallet_code,
    external_customer_id,
    metric_code,
    version_updated_at,
    current_value,
    {{ as_decimal('previous_value') }} as previous_value,
    as_of_at,
    evaluated_at
from evaluated
