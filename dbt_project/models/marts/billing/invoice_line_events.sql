{{ config(materialized='view') }}
{# "Why was I charged this?": the exact events behind each charge line (docs/tables.md): for a
    period-end line, the events of its bucket (filter and pricing group) that the close aggregated,
    carried-over events of recurring metrics included; for a pay-in-advance line, its one event;
    for a progressive-billing line, its bucket's events up to the crossing.
    Query it with `where invoice_line_id = '...'`. -#}
with

charge_lines as (
    select
        lines.invoice_line_id,
        lines.invoice_id,
        lines.external_subscription_id,
        drafted.subscription_billing_id,
        drafted.charge_code,
        coalesce(drafted.filter_code, '') as filter_code,
        drafted.pricing_group,
        drafted.transaction_id,
        drafted.invoice_type,
        drafted.plan_code,
        drafted.from_datetime,
        drafted.last_event_at
    from {{ ref('fct_invoice_lines') }} as lines
    inner join {{ ref('int_invoice_lines_drafted') }} as drafted
        on lines.invoice_line_id = drafted.invoice_line_id
    where lines.line_type = 'charge'
),

line_transactions as (
    select
        charge_lines.invoice_line_id, charge_lines.invoice_id, charge_lines.external_subscription_id,
        bucketed.transaction_id
    from charge_lines
    inner join {{ ref('int_charge_events_bucketed') }} as bucketed
        on charge_lines.subscription_billing_id = bucketed.subscription_billing_id
        and charge_lines.charge_code = bucketed.charge_code
        and charge_lines.filter_code = bucketed.filter_code
        and charge_lines.pricing_group is not distinct from bucketed.pricing_group
    where charge_lines.transaction_id is null and bucketed.is_counted
    union all
    select invoice_line_id, invoice_id, external_subscription_id, transaction_id
    from charge_lines
    where transaction_id is not null
    union all
    -- A progressive-billing line: its bucket's events of the period up to the crossing.
    select
        charge_lines.invoice_line_id, charge_lines.invoice_id, charge_lines.external_subscription_id,
        steps.transaction_id
    from charge_lines
    inner join {{ ref('int_usage_threshold_steps') }} as steps
        on charge_lines.external_subscription_id = steps.external_subscription_id
        and charge_lines.plan_code = steps.plan_code
        and charge_lines.from_datetime = steps.charges_from_at
        and charge_lines.charge_code = steps.charge_code
        and charge_lines.filter_code = steps.filter_code
        and charge_lines.pricing_group is not distinct from steps.pricing_group
        and steps.event_at <= charge_lines.last_event_at
    where charge_lines.invoice_type = 'progressive_billing'
),

events as (
    select
        external_subscription_id,
        transaction_id,
        metric_code,
        properties,
        source_file,
        line_number,
        event_at,
        loaded_at
    from {{ ref('stg_landing__events') }}
),

{# A finalized line lists the events it was frozen with: those loaded before its finalization
    (late ones show in billing.fct_invoice_restatements). -#}
finalized_invoices as (
    select invoice_id, finalized_at from {{ ref('finalized_invoices') }}
)

select
    line_transactions.invoice_line_id,
    line_transactions.invoice_id,
    events.transaction_id,
    events.external_subscription_id,
    events.metric_code,
    events.properties,
    events.source_file,
    events.line_number,
    events.event_at
from line_transactions
inner join events
    on line_transactions.external_subscription_id = events.external_subscription_id
    and line_transactions.transaction_id = events.transaction_id
left join finalized_invoices on line_transactions.invoice_id = finalized_invoices.invoice_id
where finalized_invoices.finalized_at is null or events.loaded_at <= finalized_invoices.finalized_at
