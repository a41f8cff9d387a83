{{ config(tags=['alerts']) }}
{#
    Usage alerts (docs/inputs.md `alerts/`, docs/rules.md §21.1, §21.2, §21.6): every threshold
    row of every version of every alert, judged per version. A version is the rows of one target
    (subscription or wallet), alert_code and updated_at; one bad row rejects the whole version,
    as Lago creates or updates an alert with all its thresholds or not at all. The version in
    force is the latest one that passes; an alert then loses to an older alert of the same target,
    type and metric (Lago's uniqueness). Rejected rows are reported in billing.rejected_inputs.
-#}
with

rows_loaded as (
    select * from {{ ref('int_alerts_validated__rows') }}
),

judged_versions as (
    select * from {{ ref('int_alerts_validated__versions_judged') }}
),

{# Lago never changes an alert's type: a code stays bound to the type (and metric) of the first
    version of it that passed (`code` unique per subscription). -#}
first_versions as (
    select target_kind, target_id, alert_code, alert_type as first_alert_type, metric_code as first_metric_code
    from (
        select
            *,
            row_number() over (
                partition by target_kind, target_id, alert_code order by updated_at
            ) as version_rank
        from judged_versions
        where version_rejection_reason is null
    ) as ranked
    where version_rank = 1
),

bound_versions as (
    select
        judged_versions.target_kind,
        judged_versions.target_id,
        judged_versions.alert_code,
        judged_versions.updated_at,
        judged_versions.alert_type,
        judged_versions.alert_name,
        judged_versions.metric_code,
        case
            when judged_versions.version_rejection_reason is not null then judged_versions.version_rejection_reason
            when judged_versions.alert_type <> first_versions.first_alert_type
                or coalesce(judged_versions.metric_code, '') <> coalesce(first_versions.first_metric_code, '')
                then 'value_already_exist'
        end as version_rejection_reason,
        case
            when judged_versions.version_rejection_reason is not null then judged_versions.version_rejection_detail
            when judged_versions.alert_type <> first_versions.first_alert_type
                or coalesce(judged_versions.metric_code, '') <> coalesce(first_versions.first_metric_code, '')
                then 'alert_code ' || judged_versions.alert_code || ' is already used on this '
                    || judged_versions.target_kind || ' by an alert of type ' || first_versions.first_alert_type
                    || coalesce(' on metric ' || first_versions.first_metric_code, '')
        end as version_rejection_detail
    from judged_versions
    left join first_versions
        on judged_versions.target_kind = first_versions.target_kind
        and judged_versions.target_id = first_versions.target_id
        and judged_versions.alert_code = first_versions.alert_code
),

{# The latest version that passes is in force; the first version dates the alert. -#}
latest_valid as (
    select
        *,
        row_number() over (
            partition by target_kind, target_id, alert_code
            order by case when version_rejection_reason is null then 0 else 1 end, updated_at desc
        ) as validity_rank,
        min(updated_at) over (partition by target_kind, target_id, alert_code) as first_updated_at
    from bound_versions
),

{# One alert per subscription and type (and metric), or per wallet and type: the oldest wins. -#}
contested as (
    select
        *,
        row_number() over (
            partition by target_kind, target_id, alert_type, coalesce(metric_code, '')
            order by first_updated_at, alert_code
        ) as uniqueness_rank,
        first_value(alert_code) over (
            partition by target_kind, target_id, alert_type, coalesce(metric_code, '')
            order by first_updated_at, alert_code
        ) as holder_code
    from latest_valid
    where validity_rank = 1 and version_rejection_reason is null
),

final_versions as (
    select
        latest_valid.target_kind,
        latest_valid.target_id,
        latest_valid.alert_code,
        latest_valid.updated_at,
        latest_valid.alert_type,
        latest_valid.alert_name,
        latest_valid.metric_code,
        latest_valid.first_updated_at,
        coalesce(contested.uniqueness_rank = 1, false) as is_in_force,
        case
            when latest_valid.version_rejection_reason is not null then latest_valid.version_rejection_reason
            when contested.uniqueness_rank > 1 then 'alert_already_exists'
        end as rejection_reason,
        case
            when latest_valid.version_rejection_reason is not null then latest_valid.version_rejection_detail
            when contested.uniqueness_rank > 1
                then 'alert ' || contested.holder_code || ' already watches ' || latest_valid.alert_type
                    || coalesce(' of metric ' || latest_valid.metric_code, '')
                    || ' on this '
                    || latest_valid.target_kind
        end as rejection_detail
    from latest_valid
    left join contested
        on latest_valid.target_kind = contested.target_kind
        and latest_valid.target_id = contested.target_id
        and latest_valid.alert_code = contested.alert_code
        and latest_valid.updated_at = contested.updated_at
)

select
    {{ hash_key(['rows_loaded.target_kind', 'rows_loaded.target_id', 'rows_loaded.alert_code']) }} as alert_id,
    rows_loaded.target_kind,
    rows_loaded.external_subscription_id,
    rows_loaded.wallet_code,
    rows_loaded.alert_code,
    final_versions.alert_name,
    final_versions.alert_type,
    case when rows_loaded.target_kind = 'wallet' then 'decreasing' else 'increasing' end as direction,
    final_versions.metric_code,
    rows_loaded.threshold_code,
    rows_loaded.threshold_value,
    rows_loaded.threshold_value_text,
    rows_loaded.is_recurring,
    rows_loaded.recurring_text,
    rows_loaded.updated_at as version_updated_at,
    final_versions.first_updated_at,
    final_versions.is_in_force,
    final_versions.rejection_reason,
    final_versions.rejection_detail,
    rows_loaded.source_file,
    rows_loaded.line_number,
    rows_loaded.loaded_at
from rows_loaded
inner join final_versions
    on rows_loaded.target_kind = final_versions.target_kind
    and rows_loaded.target_id = final_versions.target_id
    and rows_loaded.alert_code = final_versions.alert_code
    and rows_loaded.updated_at = final_versions.updated_at
