{#- Manual credit notes (docs/inputs.md `credit_notes/`, §7): each landing row resolved to the
    finalized invoice it credits (by invoice_id or invoice_number), with its issuing day in the
    customer's timezone. A note on an invoice that is not finalized, on a line of another invoice,
    or that would credit more than is left of the invoice or line (after earlier notes, oldest
    first) is kept with its rejection reason for `rejected_inputs` and never issued. The frozen
    invoices are read as earlier state (macros/frozen_state.sql). -#}
{%- set frozen_invoices = frozen_relation(source('ledger', 'finalized_invoices')) -%}
{%- set frozen_lines = frozen_relation(source('ledger', 'finalized_invoice_lines')) -%}
with

notes as (
    select * from {{ ref('stg_landing__credit_notes') }}
),

invoices as (
    {% if frozen_invoices %}
    select invoice_id, invoice_number, external_customer_id, currency, fees_amount
    from {{ frozen_invoices }}
    where invoice_type <> 'credit'
    {% else %}
    select
        cast(null as varchar) as invoice_id, cast(null as varchar) as invoice_number,
        cast(null as varchar) as external_customer_id, cast(null as varchar) as currency,
        {{ as_money('0') }} as fees_amount
    where false
    {% endif %}
),

lines as (
    {% if frozen_lines %}
    select invoice_line_id, invoice_id, amount from {{ frozen_lines }}
    {% else %}
    select cast(null as varchar) as invoice_line_id, cast(null as varchar) as invoice_id, {{ as_money('0') }} as amount
    where false
    {% endif %}
),

customers as (
    select external_customer_id, timezone from {{ ref('int_customers_deduplicated') }}
),

termination_items as (
    select invoice_id, invoice_line_id, sum(item_amount) as credited_amount
    from {{ ref('int_termination_credit_note_items') }}
    group by invoice_id, invoice_line_id
),

resolved as (
    select
        notes.*,
        invoices.invoice_id as credited_invoice_id,
        invoices.external_customer_id,
        invoices.currency,
        invoices.fees_amount,
        lines.amount as line_amount,
        customers.timezone
    from notes
    left join invoices
        on coalesce(notes.invoice_id, '') = invoices.invoice_id
        or (notes.invoice_id is null and notes.invoice_number = invoices.invoice_number)
    left join lines
        on notes.invoice_line_id = lines.invoice_line_id
        and invoices.invoice_id = lines.invoice_id
    left join customers on invoices.external_customer_id = customers.external_customer_id
),

cumulated as (
    select
        resolved.*,
        sum(resolved.amount) over (
            partition by resolved.credited_invoice_id
            order by resolved.created_at, resolved.landing_credit_note_id
            rows between unbounded preceding and current row
        ) + coalesce(invoice_terminations.credited_amount, 0) as invoice_credited_amount,
        sum(resolved.amount) over (
            partition by resolved.credited_invoice_id, resolved.invoice_line_id
            order by resolved.created_at, resolved.landing_credit_note_id
            rows between unbounded preceding and current row
        ) + coalesce(line_terminations.credited_amount, 0) as line_credited_amount
    from resolved
    left join (
        select invoice_id, sum(credited_amount) as credited_amount from termination_items
        group by invoice_id
    ) as invoice_terminations on resolved.credited_invoice_id = invoice_terminations.invoice_id
    left join termination_items as line_terminations
        on resolved.invoice_line_id = line_terminations.invoice_line_id
)

select
    landing_credit_note_id,
    credited_invoice_id as invoice_id,
    invoice_number,
    invoice_line_id,
    external_customer_id,
    currency,
    amount,
    description,
    created_at,
    {{ utc_to_local_date('created_at', 'timezone') }} as issuing_date,
    case
        when credited_invoice_id is null then 'unknown_invoice'
        when invoice_line_id is not null and line_amount is null then 'unknown_invoice_line'
        when invoice_credited_amount > fees_amount
            or (invoice_line_id is not null and line_credited_amount > line_amount) then 'credit_exceeds_invoice'
    end as rejection_reason,
    case
        when credited_invoice_id is null then 'no finalized invoice has this invoice_id or invoice_number'
        when
            invoice_line_id is not null and line_amount is null
            then 'the invoice has no line with this invoice_line_id'
        when invoice_credited_amount > fees_amount
            or (invoice_line_id is not null and line_credited_amount > line_amount)
            then 'with earlier credit notes, this would credit more than the invoice or line was billed'
    end as rejection_detail,
    source_file,
    line_number,
    loaded_at
from cumulated
