{{ config(materialized='view') }}
{#- "Why was I charged this?": the exact events behind each charge line (CONTRACT §4), computed on
    demand from the line's subscription, metric and half-open window, so nothing is stored twice.
    Query it with `where invoice_line_id = '...'`. -#}
with

charge_lines as (
    select invoice_line_id, invoice_id, external_subscription_id, metric_code, from_datetime, to_datetime
    from {{ ref('fct_invoice_lines') }}
    where line_type = 'charge'
),

events as (
    select
        external_subscription_id,
        transaction_id,
        metric_code,
        properties,
        source_file,
        line_number,
        event_at
    from {{ ref('stg_landing__events') }}
)

select
    charge_lines.invoice_line_id,
    charge_lines.invoice_id,
    events.transaction_id,
    events.external_subscription_id,
    events.metric_code,
    events.properties,
    events.source_file,
    events.line_number,
    events.event_at
from charge_lines
inner join events
    on charge_lines.external_subscription_id = events.external_subscription_id
    and charge_lines.metric_code = events.metric_code
    and events.event_at >= charge_lines.from_datetime
    and events.event_at < charge_lines.to_datetime
