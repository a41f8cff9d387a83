{{ config(meta={'dagster': {'ref': {'name': 'fct_invoice_lines'}}}) }}
{# Lineage (docs/tables.md): every charge line of the close window lists exactly as many events in
    billing.invoice_line_events as it says it counted. A finalized line that later data restated
    is left out: its events are read from the month's latest computation, which a correction may
    have changed (billing.fct_invoice_restatements tells how). -#}
with

lines as (
    select invoice_line_id, events_count
    from {{ ref('fct_invoice_lines') }}
    where line_type = 'charge'
        and billing_month >= {{ billing_period_start() }} and billing_month < {{ billing_period_end() }}
        and invoice_line_id not in (select invoice_line_id from {{ ref('fct_invoice_restatements') }})
),

listed as (
    select invoice_line_id, count(*) as listed_events
    from {{ ref('invoice_line_events') }}
    where invoice_line_id in (select invoice_line_id from lines)
    group by invoice_line_id
)

select lines.invoice_line_id, lines.events_count, coalesce(listed.listed_events, 0) as listed_events
from lines
left join listed on lines.invoice_line_id = listed.invoice_line_id
where lines.events_count <> coalesce(listed.listed_events, 0)
