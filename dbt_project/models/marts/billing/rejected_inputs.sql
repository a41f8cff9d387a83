{#- Every input row that cannot be billed, with its reason (docs/bad-input.md): rows quarantined at
    load, plus events and subscriptions that only fail against the catalog or other inputs, which
    are judged again at every close (a subscription that arrives later makes its events billable). -#}
with

loaded_rejections as (
    select * from {{ ref('stg_landing__rejected_inputs') }}
),

events as (
    select
        external_subscription_id,
        transaction_id,
        metric_code,
        event_at,
        properties,
        source_file,
        line_number,
        loaded_at
    from {{ ref('stg_landing__events') }}
),

metrics as (
    select distinct metric_code from {{ ref('stg_catalog__billable_metrics') }}
),

subscriptions as (
    select * from {{ ref('int_subscriptions_validated') }}
),

billable_subscription_ids as (
    select distinct external_subscription_id from subscriptions
    where rejection_reason is null
),

unbillable_events as (
    select
        'events' as input_kind,
        events.source_file,
        events.line_number,
        {{ json_object_text([
            "'transaction_id'", 'events.transaction_id',
            "'external_subscription_id'", 'events.external_subscription_id',
            "'code'", 'events.metric_code',
            "'timestamp'", 'cast(events.event_at as varchar)',
            "'properties'", 'events.properties',
        ]) }} as raw,
        {{ event_rejection_reason() }} as reason,
        events.loaded_at
    from events
    where {{ event_rejection_reason() }} is not null
),

{# A number too large to bill exactly in the field a numeric aggregation reads (docs/rules.md §2):
    Meterhouse bills decimal(38, 9), 29 integer digits. Such an event is billed nowhere (the
    rating models skip it), so it is listed here rather than lost. -#}
unbillable_values as (
    select
        'events' as input_kind,
        events.source_file,
        events.line_number,
        {{ json_object_text([
            "'transaction_id'", 'events.transaction_id',
            "'external_subscription_id'", 'events.external_subscription_id',
            "'code'", 'events.metric_code',
            "'timestamp'", 'cast(events.event_at as varchar)',
            "'properties'", 'events.properties',
        ]) }} as raw,
        'bad_value' as reason,
        'exceeds the 29 integer digits Meterhouse can bill exactly' as detail,
        events.loaded_at
    from events
    inner join {{ ref('stg_catalog__billable_metrics') }} as metric_versions
        on events.metric_code = metric_versions.metric_code
        and cast(events.event_at as date) >= metric_versions.valid_from
        and cast(events.event_at as date) < metric_versions.valid_to
    where metric_versions.aggregation in ('sum', 'max', 'latest', 'weighted_sum')
        and events.external_subscription_id in (select external_subscription_id from billable_subscription_ids)
        and {{ is_unbillable_number(json_value_text('events.properties', 'metric_versions.field_name')) }}
),

unbillable_subscriptions as (
    select
        'subscriptions' as input_kind,
        source_file,
        line_number,
        {{ json_object_text([
            "'external_subscription_id'", 'external_subscription_id',
            "'external_customer_id'", 'external_customer_id',
            "'plan_code'", 'plan_code',
            "'started_at'", 'cast(started_at as varchar)',
        ]) }} as raw,
        rejection_reason as reason,
        rejection_detail as detail,
        loaded_at
    from subscriptions
    where rejection_reason is not null
),

{# Coupons, wallets, wallet movements and manual credit notes that name something unknown
    (docs/inputs.md): judged at every close, like events. -#}
unusable_account_inputs as (
    select
        'applied_coupons' as input_kind, source_file, line_number,
        {{ json_object_text([
            "'external_customer_id'", 'external_customer_id',
            "'coupon_code'", 'coupon_code',
            "'applied_at'", 'cast(applied_at as varchar)',
        ]) }} as raw,
        rejection_reason as reason, rejection_detail as detail, loaded_at
    from {{ ref('int_applied_coupons_validated') }}
    where rejection_reason is not null
    union all
    select
        'wallets' as input_kind, source_file, line_number,
        {{ json_object_text([
            "'wallet_code'", 'wallet_code',
            "'external_customer_id'", 'external_customer_id',
            "'currency'", 'currency',
        ]) }} as raw,
        rejection_reason as reason, rejection_detail as detail, loaded_at
    from {{ ref('int_wallets_validated') }}
    where rejection_reason is not null
    union all
    select
        'wallet_transactions' as input_kind, source_file, line_number,
        {{ json_object_text([
            "'wallet_code'", 'wallet_code',
            "'transaction_type'", 'transaction_type',
            "'credits'", 'cast(credits as varchar)',
            "'created_at'", 'cast(created_at as varchar)',
        ]) }} as raw,
        rejection_reason as reason, rejection_detail as detail, loaded_at
    from {{ ref('int_wallet_transactions_validated') }}
    where rejection_reason is not null
    union all
    select
        'credit_notes' as input_kind, source_file, line_number,
        {{ json_object_text([
            "'invoice_id'", 'invoice_id',
            "'invoice_number'", 'invoice_number',
            "'invoice_line_id'", 'invoice_line_id',
            "'amount'", 'cast(amount as varchar)',
            "'created_at'", 'cast(created_at as varchar)',
        ]) }} as raw,
        rejection_reason as reason, rejection_detail as detail, loaded_at
    from {{ ref('int_manual_credit_notes_validated') }}
    where rejection_reason is not null
    union all
    {# Usage alerts: every row of a rejected version, with the version's reason. #}
    select
        'alerts' as input_kind, source_file, line_number,
        {{ json_object_text([
            "'alert_code'", 'alert_code',
            "'external_subscription_id'", 'external_subscription_id',
            "'wallet_code'", 'wallet_code',
            "'alert_type'", 'alert_type',
            "'threshold_value'", 'threshold_value_text',
            "'recurring'", 'recurring_text',
            "'updated_at'", 'cast(version_updated_at as varchar)',
        ]) }} as raw,
        rejection_reason as reason, rejection_detail as detail, loaded_at
    from {{ ref('int_alerts_validated') }}
    where rejection_reason is not null
),

judged_at_close as (
    select
        input_kind,
        source_file,
        line_number,
        raw,
        reason,
        case reason
            when 'unknown_metric' then 'the event code is not a billable metric of the catalog'
            else 'no billable subscription has this external_subscription_id'
        end as detail,
        loaded_at
    from unbillable_events
    union all
    select input_kind, source_file, line_number, raw, reason, detail, loaded_at
    from unbillable_values
    union all
    select input_kind, source_file, line_number, raw, reason, detail, loaded_at
    from unbillable_subscriptions
    union all
    select input_kind, source_file, line_number, raw, reason, detail, loaded_at
    from unusable_account_inputs
)

select
    rejected_input_id,
    input_kind,
    source_file,
    line_number,
    raw,
    reason,
    detail,
    loaded_at
from loaded_rejections
union all
select
    {{ hash_key(['input_kind', 'source_file', 'line_number', 'reason']) }} as rejected_input_id,
    input_kind,
    source_file,
    line_number,
    raw,
    reason,
    detail,
    loaded_at
from judged_at_close
