{{ config(tags=['alerts']) }}
{#
    Triggered usage alerts (docs/rules.md §21.5): one row per evaluation that crossed at least one
    threshold, every threshold it crossed in one list. Rebuilt from the evaluation log, so a row
    keeps its id and content from run to run.
-#}
with

evaluations as (
    select * from {{ ref('int_alert_evaluations') }}
),

crossed as (
    select
        evaluation_id,
        threshold_value,
        {{ json_object_text([
            "'code'", 'threshold_code',
            "'value'", decimal_text('threshold_value'),
            "'recurring'", 'is_recurring',
        ]) }} as threshold_json
    from {{ ref('int_alert_crossings') }}
),

lists as (
    select
        evaluation_id,
        count(*) as crossed_count,
        '[' || {{ string_agg_ordered('threshold_json', 'threshold_value', "','") }} || ']' as crossed_thresholds
    from crossed
    group by evaluation_id
)

select
    evaluations.evaluation_id as triggered_alert_id,
    evaluations.alert_id,
    evaluations.alert_code,
    evaluations.alert_name,
    evaluations.alert_type,
    evaluations.external_subscription_id,
    evaluations.wallet_code,
    evaluations.external_customer_id,
    evaluations.metric_code,
    evaluations.current_value,
    evaluations.previous_value,
    lists.crossed_count,
    lists.crossed_thresholds,
    evaluations.as_of_at,
    evaluations.evaluated_at as triggered_at
from evaluations
inner join lists on evaluations.evaluation_id = lists.evaluation_id
