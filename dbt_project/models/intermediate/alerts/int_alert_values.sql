{{ config(tags=['alerts']) }}
{#
    The value each alert in force compares with its thresholds now (docs/rules.md §21.1), from
    current usage as last refreshed: one row per alert that has a value. An alert whose
    subscription has no current usage (not active) or whose metric is on no charge of the plan
    has no row: it is skipped, and its previous value stays as it was. A wallet alert compares
    its wallet's balance or ongoing balance (int_wallet_balances_now); an expired wallet has no row.

    A close evaluates alerts too, but does not refresh current usage: when no refresh ever ran,
    current usage does not exist yet and no alert has a value.
-#}
{%- set usage_lines = ref('fct_usage_current') -%}
{%- set usage_subscriptions = ref('fct_usage_current_subscriptions') -%}
{# A unit test's fixture has no schema: it is a CTE of the test's query. -#}
{%- set usage_exists = not execute or usage_subscriptions.schema is none
    or load_relation(usage_subscriptions) is not none -%}
{# Units since the subscription's start, computed by the refresh for the subscriptions that have
    a billable_metric_lifetime_usage_units alert (absent in a warehouse never refreshed since). -#}
{%- set lifetime_units = ref('int_usage_lifetime_units') -%}
{%- set lifetime_units_exist = not execute or lifetime_units.schema is none
    or load_relation(lifetime_units) is not none -%}
{%- set invoice_lines = ref('fct_invoice_lines') -%}
{%- set invoices = ref('fct_invoices') -%}
{# The close's invoices, as the last close wrote them (a refresh does not rebuild them); none
    before the first close. -#}
{%- set invoiced_exists = not execute or invoice_lines.schema is none
    or (load_relation(invoice_lines) is not none and load_relation(invoices) is not none) -%}
with

alerts as (
    select distinct
        alert_id,
        alert_code,
        alert_name,
        alert_type,
        direction,
        target_kind,
        external_subscription_id,
        wallet_code,
        metric_code,
        version_updated_at
    from {{ ref('int_alerts_validated') }}
    where is_in_force
),

{% if usage_exists %}
currencies as (
    select currency, exponent from {{ ref('stg_reference__currencies') }}
),

subscriptions as (
    select
        usage.external_subscription_id,
        usage.external_customer_id,
        usage.currency,
        usage.plan_code,
        usage.from_datetime,
        usage.as_of_at,
        usage.amount,
        currencies.exponent,
        {{ to_minor_units('usage.amount', 'currencies.exponent') }} as amount_cents
    from {{ usage_subscriptions }} as usage
    inner join currencies on usage.currency = currencies.currency
    where usage.external_subscription_id in (select external_subscription_id from alerts)
),

{# Lifetime usage (§21.1): the charges of the subscription's invoices (draft or finalized, not
    voided) on its current plan, plus the current usage unless a close has invoiced its period
    since the refresh (it is then among those charges). Historical usage is not an input: 0. -#}
{% if invoiced_exists %}
invoiced_charges as (
    select lines.external_subscription_id, lines.plan_code, lines.from_datetime, lines.to_datetime, lines.amount
    from {{ invoice_lines }} as lines
    inner join {{ invoices }} as invoices on lines.invoice_id = invoices.invoice_id
    where lines.line_type = 'charge'
        and invoices.invoice_type = 'subscription'
        and invoices.status <> 'voided'
        and lines.external_subscription_id in (select external_subscription_id from alerts)
),
{% else %}
invoiced_charges as (
    select
        cast(null as varchar) as external_subscription_id,
        cast(null as varchar) as plan_code,
        cast(null as timestamp) as from_datetime,
        cast(null as timestamp) as to_datetime,
        cast(null as decimal(38, 4)) as amount
    where 1 = 0
),
{% endif %}

lifetime_values as (
    select
        subscriptions.external_subscription_id,
        {{ to_minor_units(
            'coalesce(max(invoiced.amount), 0) + case when max(covering.external_subscription_id) is null'
            ~ ' then max(subscriptions.amount) else 0 end', 'max(subscriptions.exponent)') }} as amount_cents
    from subscriptions
    left join (
        select external_subscription_id, plan_code, sum(amount) as amount
        from invoiced_charges
        group by external_subscription_id, plan_code
    ) as invoiced
        on subscriptions.external_subscription_id = invoiced.external_subscription_id
        and subscriptions.plan_code = invoiced.plan_code
    left join invoiced_charges as covering
        on subscriptions.external_subscription_id = covering.external_subscription_id
        and covering.from_datetime <= subscriptions.from_datetime
        and covering.to_datetime > subscriptions.from_datetime
    group by subscriptions.external_subscription_id
),

{# Max, not sum: each row of current usage is one fee (a filter or a pricing group). -#}
metric_values as (
    select
        lines.external_subscription_id,
        lines.metric_code,
        max({{ to_minor_units('lines.amount', 'currencies.exponent') }}) as amount_cents,
        max(lines.units) as units
    from {{ usage_lines }} as lines
    inner join currencies on lines.currency = currencies.currency
    where lines.external_subscription_id in (select external_subscription_id from alerts)
    group by lines.external_subscription_id, lines.metric_code
),

{# Max again: the largest bucket's units since the start (int_usage_lifetime_units). An alert
    that came after the last refresh has none yet: skipped until the next refresh. -#}
{% if lifetime_units_exist %}
lifetime_unit_values as (
    select external_subscription_id, metric_code, max(units) as units
    from {{ lifetime_units }}
    where external_subscription_id in (select external_subscription_id from alerts)
    group by external_subscription_id, metric_code
),
{% else %}
lifetime_unit_values as (
    select
        cast(null as varchar) as external_subscription_id,
        cast(null as varchar) as metric_code,
        {{ as_decimal('null') }} as units
    where 1 = 0
),
{% endif %}
{% else %}
subscriptions as (
    select
        cast(null as varchar) as external_subscription_id,
        cast(null as varchar) as external_customer_id,
        cast(null as varchar) as currency,
        cast(null as timestamp) as as_of_at,
        {{ as_decimal('null') }} as amount_cents
    where 1 = 0
),

lifetime_values as (
    select cast(null as varchar) as external_subscription_id, {{ as_decimal('null') }} as amount_cents
    where 1 = 0
),

metric_values as (
    select
        cast(null as varchar) as external_subscription_id,
        cast(null as varchar) as metric_code,
        {{ as_decimal('null') }} as amount_cents,
        {{ as_decimal('null') }} as units
    where 1 = 0
),

lifetime_unit_values as (
    select
        cast(null as varchar) as external_subscription_id,
        cast(null as varchar) as metric_code,
        {{ as_decimal('null') }} as units
    where 1 = 0
),
{% endif %}

valued as (
    select
        alerts.*,
        subscriptions.external_customer_id,
        subscriptions.as_of_at,
        case alerts.alert_type
            when 'current_usage_amount' then subscriptions.amount_cents
            when 'billable_metric_current_usage_amount' then metric_values.amount_cents
            when 'billable_metric_current_usage_units' then metric_values.units
            when 'lifetime_usage_amount' then lifetime_values.amount_cents
            when 'billable_metric_lifetime_usage_units' then lifetime_unit_values.units
        end as current_value
    from alerts
    inner join subscriptions on alerts.external_subscription_id = subscriptions.external_subscription_id
    left join lifetime_values on alerts.external_subscription_id = lifetime_values.external_subscription_id
    left join metric_values
        on alerts.external_subscription_id = metric_values.external_subscription_id
        and alerts.metric_code = metric_values.metric_code
    left join lifetime_unit_values
        on alerts.external_subscription_id = lifetime_unit_values.external_subscription_id
        and alerts.metric_code = lifetime_unit_values.metric_code
    where alerts.target_kind = 'subscription'
),

{# Wallet alerts compare the wallet's balance or ongoing balance, in cents or credits (§21.7). #}
wallet_valued as (
    select
        alerts.*,
        wallets.external_customer_id,
        wallets.as_of_at,
        case alerts.alert_type
            when 'wallet_balance_amount' then wallets.balance_cents
            when 'wallet_credits_balance' then wallets.credits_balance
            when 'wallet_ongoing_balance_amount' then wallets.ongoing_balance_cents
            when 'wallet_credits_ongoing_balance' then wallets.credits_ongoing_balance
        end as current_value
    from alerts
    inner join {{ ref('int_wallet_balances_now') }} as wallets on alerts.wallet_code = wallets.wallet_code
    where alerts.target_kind = 'wallet'
),

all_valued as (
    select * from valued
    union all
    select * from wallet_valued
)

select
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
    {{ as_decimal('current_value') }} as current_value,
    as_of_at
from all_valued
where current_value is not null
