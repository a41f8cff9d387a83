{{ config(materialized='ephemeral') }}
{#
    The current usage with taxes of every subscription (billing.fct_usage_current_subscriptions,
    docs/rules.md §21.7) as of its last refresh, and whether a close has invoiced its period since
    (is_invoiced_since): then that close's draft counts instead, and int_wallet_balances_now,
    which this is compiled into, leaves the usage out of the ongoing usage. The close's tables
    are read as they are; before any refresh or close they do not exist (no usage, nothing
    invoiced).
-#}
{%- set usage_subscriptions = ref('fct_usage_current_subscriptions') -%}
{%- set invoice_lines = ref('fct_invoice_lines') -%}
{# A unit test's fixture has no schema: it is a CTE of the test's query. -#}
{%- set usage_exists = not execute or usage_subscriptions.schema is none
    or load_relation(usage_subscriptions) is not none -%}
{%- set lines_exist = not execute or invoice_lines.schema is none or load_relation(invoice_lines) is not none -%}
with

{% if usage_exists %}
usage_to_date as (
    select external_subscription_id, external_customer_id, currency, total_amount, from_datetime, as_of_at
    from {{ usage_subscriptions }}
),

{# A close after the last refresh may have invoiced the period of that usage: its draft counts
    instead (below), so the usage is left out rather than counted twice. -#}
{% if lines_exist %}
invoiced_periods as (
    select distinct external_subscription_id, from_datetime, to_datetime
    from {{ invoice_lines }}
    where line_type = 'charge'
),
{% else %}
invoiced_periods as (
    select
        cast(null as varchar) as external_subscription_id,
        cast(null as timestamp) as from_datetime,
        cast(null as timestamp) as to_datetime
    where 1 = 0
),
{% endif %}

usage as (
    select
        usage_to_date.external_subscription_id,
        usage_to_date.external_customer_id,
        usage_to_date.currency,
        usage_to_date.total_amount,
        usage_to_date.as_of_at,
        exists (
            select 1
            from invoiced_periods
            where invoiced_periods.external_subscription_id = usage_to_date.external_subscription_id
                and invoiced_periods.from_datetime <= usage_to_date.from_datetime
                and invoiced_periods.to_datetime > usage_to_date.from_datetime
        ) as is_invoiced_since
    from usage_to_date
)
{% else %}
usage as (
    select
        cast(null as varchar) as external_subscription_id,
        cast(null as varchar) as external_customer_id,
        cast(null as varchar) as currency,
        cast(null as decimal(38, 4)) as total_amount,
        cast(null as timestamp) as as_of_at,
        cast(null as boolean) as is_invoiced_since
    where 1 = 0
)
{% endif %}


select * from usage
