{{ config(materialized='ephemeral') }}

{#
    Every version of every usage alert (the rows of one target, alert_code and updated_at)
    judged on its own rows and on the catalog, the subscriptions and the wallets
    (docs/rules.md §21.1, §21.2; docs/inputs.md `alerts/`): one bad row rejects the whole
    version (version_rejection_reason, version_rejection_detail), as Lago creates or updates an
    alert with all its thresholds or not at all. What a version's code is bound to and which
    alert is in force is int_alerts_validated's, which this is compiled into.
-#}
{%- set subscription_types = ['current_usage_amount', 'billable_metric_current_usage_amount',
    'billable_metric_current_usage_units', 'lifetime_usage_amount', 'billable_metric_lifetime_usage_units'] -%}
{%- set wallet_types = ['wallet_balance_amount', 'wallet_credits_balance', 'wallet_ongoing_balance_amount',
    'wallet_credits_ongoing_balance'] -%}
{%- set metric_types = ['billable_metric_current_usage_amount', 'billable_metric_current_usage_units',
    'billable_metric_lifetime_usage_units'] -%}
with

rows_loaded as (
    select * from {{ ref('int_alerts_validated__rows') }}
),

versions as (
    select
        target_kind,
        target_id,
        alert_code,
        updated_at,
        count(*) as thresholds_count,
        min(alert_type) as alert_type,
        max(alert_type) as alert_type_max,
        sum(case when alert_type is null then 1 else 0 end) as missing_types,
        min(metric_code) as metric_code,
        max(metric_code) as metric_code_max,
        sum(case when metric_code is null then 1 else 0 end) as missing_metrics,
        max(alert_name) as alert_name,
        max(case when external_subscription_id is not null and wallet_code is not null then 1 else 0 end)
            as both_targets,
        sum(case when threshold_value is null then 1 else 0 end) as bad_values,
        sum(case when is_recurring is null then 1 else 0 end) as bad_recurring,
        sum(case when is_recurring then 1 else 0 end) as recurring_count,
        sum(case when is_recurring and threshold_value <= 0 then 1 else 0 end) as non_positive_recurring
    from rows_loaded
    group by target_kind, target_id, alert_code, updated_at
),

repeated_values as (
    select target_kind, target_id, alert_code, updated_at, count(*) as repeated
    from (
        select target_kind, target_id, alert_code, updated_at, threshold_value, is_recurring
        from rows_loaded
        where threshold_value is not null and is_recurring is not null
        group by target_kind, target_id, alert_code, updated_at, threshold_value, is_recurring
        having count(*) > 1
    ) as pairs
    group by target_kind, target_id, alert_code, updated_at
),

typed_versions as (
    select
        versions.*,
        coalesce(repeated_values.repeated, 0) as repeated_pairs,
        versions.missing_types = 0
        and versions.alert_type = versions.alert_type_max
        and (versions.missing_metrics = 0 or versions.missing_metrics = versions.thresholds_count)
        and (versions.metric_code is null or versions.metric_code = versions.metric_code_max)
        and versions.alert_type in (
            {{ "'" ~ (subscription_types + wallet_types) | join("', '") ~ "'" }}
        ) as has_known_type
    from versions
    left join repeated_values
        on versions.target_kind = repeated_values.target_kind
        and versions.target_id = repeated_values.target_id
        and versions.alert_code = repeated_values.alert_code
        and versions.updated_at = repeated_values.updated_at
),

subscriptions as (
    select distinct external_subscription_id
    from {{ ref('int_subscriptions_validated') }}
    where rejection_reason is null
),

wallets as (
    select distinct wallet_code from {{ ref('int_wallets_validated') }}
    where rejection_reason is null
),

metrics as (
    select distinct metric_code from {{ ref('stg_catalog__billable_metrics') }}
),

{# Lago refuses usage since the start (billable_metric_lifetime_usage_units) when a charge on the
    metric is prorated: here on any plan of the subscription, in any catalog version, since the
    alert follows the subscription across plan changes (docs/deviations.md). -#}
prorated_charges as (
    select external_subscription_id, metric_code, charge_code, plan_code
    from (
        select
            subscriptions.external_subscription_id,
            charges.metric_code,
            charges.charge_code,
            charges.plan_code,
            row_number() over (
                partition by subscriptions.external_subscription_id, charges.metric_code
                order by charges.plan_code, charges.charge_code
            ) as charge_rank
        from {{ ref('int_subscriptions_validated') }} as subscriptions
        inner join {{ ref('stg_catalog__charges') }} as charges on subscriptions.plan_code = charges.plan_code
        where subscriptions.rejection_reason is null and charges.is_prorated
    ) as ranked
    where charge_rank = 1
),

judged_versions as (
    select
        typed_versions.*,
        case
            when not typed_versions.has_known_type then 'bad_value'
            when typed_versions.both_targets = 1 then 'bad_value'
            when typed_versions.target_kind = 'subscription'
                and typed_versions.alert_type not in ({{ "'" ~ (subscription_types) | join("', '") ~ "'" }})
                then 'bad_value'
            when typed_versions.target_kind = 'wallet'
                and typed_versions.alert_type not in ({{ "'" ~ (wallet_types) | join("', '") ~ "'" }}) then 'bad_value'
            when typed_versions.alert_type in ({{ "'" ~ (metric_types) | join("', '") ~ "'" }})
                and typed_versions.metric_code is null
                then 'missing_field'
            when typed_versions.alert_type not in ({{ "'" ~ (metric_types) | join("', '") ~ "'" }})
                and typed_versions.metric_code is not null
                then 'bad_value'
            when typed_versions.bad_values > 0 then 'bad_value'
            when typed_versions.bad_recurring > 0 then 'bad_value'
            when typed_versions.thresholds_count > 20 then 'too_many_thresholds'
            when typed_versions.recurring_count > 1 then 'bad_value'
            when typed_versions.non_positive_recurring > 0 then 'bad_value'
            when typed_versions.repeated_pairs > 0 then 'value_already_exist'
            when typed_versions.target_kind = 'subscription'
                and typed_versions.target_id not in (select external_subscription_id from subscriptions)
                then 'unknown_subscription'
            when typed_versions.target_kind = 'wallet'
                and typed_versions.target_id not in (select wallet_code from wallets)
                then 'unknown_wallet'
            when typed_versions.metric_code is not null
                and typed_versions.metric_code not in (select metric_code from metrics)
                then 'unknown_metric'
            when prorated_charges.charge_code is not null then 'full_usage_not_allowed'
        end as version_rejection_reason,
        case
            when not typed_versions.has_known_type
                then 'alert_type must be one of Lago''s nine alert types, the same on every row of the alert, '
                    || 'and metric_code the same on every row'
            when typed_versions.both_targets = 1
                then 'an alert belongs to a subscription or to a wallet: '
                    || 'give external_subscription_id or wallet_code, not both'
            when typed_versions.target_kind = 'subscription'
                and typed_versions.alert_type not in ({{ "'" ~ (subscription_types) | join("', '") ~ "'" }})
                then typed_versions.alert_type || ' is a wallet alert: give wallet_code, not external_subscription_id'
            when typed_versions.target_kind = 'wallet'
                and typed_versions.alert_type not in ({{ "'" ~ (wallet_types) | join("', '") ~ "'" }})
                then typed_versions.alert_type
                    || ' is a subscription alert: give external_subscription_id, not wallet_code'
            when typed_versions.alert_type in ({{ "'" ~ (metric_types) | join("', '") ~ "'" }})
                and typed_versions.metric_code is null
                then typed_versions.alert_type || ' needs a metric_code'
            when typed_versions.alert_type not in ({{ "'" ~ (metric_types) | join("', '") ~ "'" }})
                and typed_versions.metric_code is not null
                then typed_versions.alert_type || ' takes no metric_code'
            when typed_versions.bad_values > 0
                then 'a threshold_value is missing or not a number'
            when typed_versions.bad_recurring > 0
                then 'recurring must be true or false'
            when typed_versions.thresholds_count > 20
                then 'an alert has 1 to 20 thresholds; this one has '
                    || cast(typed_versions.thresholds_count as varchar)
            when typed_versions.recurring_count > 1
                then 'an alert has at most one recurring threshold; this one has '
                    || cast(typed_versions.recurring_count as varchar)
            when typed_versions.non_positive_recurring > 0
                then 'the recurring threshold must be greater than 0'
            when typed_versions.repeated_pairs > 0
                then 'two thresholds of the alert have the same value and recurring flag'
            when typed_versions.target_kind = 'subscription'
                and typed_versions.target_id not in (select external_subscription_id from subscriptions)
                then 'no billable subscription has this external_subscription_id'
            when typed_versions.target_kind = 'wallet'
                and typed_versions.target_id not in (select wallet_code from wallets)
                then 'no usable wallet has this wallet_code'
            when typed_versions.metric_code is not null
                and typed_versions.metric_code not in (select metric_code from metrics)
                then 'the metric_code is not a billable metric of the catalog'
            when prorated_charges.charge_code is not null
                then 'billable_metric_lifetime_usage_units cannot watch a prorated charge: charge '
                    || prorated_charges.charge_code || ' of plan ' || prorated_charges.plan_code || ' is prorated'
        end as version_rejection_detail
    from typed_versions
    left join prorated_charges
        on typed_versions.alert_type = 'billable_metric_lifetime_usage_units'
        and typed_versions.target_kind = 'subscription'
        and typed_versions.target_id = prorated_charges.external_subscription_id
        and typed_versions.metric_code = prorated_charges.metric_code
)

select * from judged_versions
