{#- Frozen credit notes of the month being finalized (docs/conventions.md), numbered after the invoice they
    credit, as Lago does: `<invoice_number>-CN<n>`, n counting that invoice's notes from 001.
    Append-only; a re-run appends only what is missing. -#}
with

drafts as (
    select *
    from {{ ref('int_credit_notes_drafted') }}
    where billing_month = {{ finalize_month() }}
),

{% if is_incremental() %}
frozen as (
    select credit_note_id, invoice_id, invoice_credit_note_sequence from {{ this }}
),
{% else %}
frozen as (
    select
        cast(null as varchar) as credit_note_id,
        cast(null as varchar) as invoice_id,
        cast(0 as integer) as invoice_credit_note_sequence
    where false
),
{% endif %}

invoice_counters as (
    select invoice_id, max(invoice_credit_note_sequence) as last_sequence
    from frozen
    group by invoice_id
),

credited_invoices as (
    select invoice_id, invoice_number from {{ ref('finalized_invoices') }}
),

to_number as (
    select
        drafts.*,
        credited_invoices.invoice_number,
        cast(
            coalesce(invoice_counters.last_sequence, 0)
            + row_number() over (partition by drafts.invoice_id order by drafts.issuing_date, drafts.credit_note_id)
            as integer
        ) as invoice_credit_note_sequence
    from drafts
    -- The credited invoice was finalized with its own, earlier or same, month.
    inner join credited_invoices on drafts.invoice_id = credited_invoices.invoice_id
    left join invoice_counters on drafts.invoice_id = invoice_counters.invoice_id
    where drafts.credit_note_id not in (select credit_note_id from frozen)
)

select
    credit_note_id,
    invoice_number || '-CN' || {{ zero_pad('invoice_credit_note_sequence', 3) }} as credit_note_number,
    invoice_credit_note_sequence,
    {%- for column in credit_note_columns() %}
    {{ column }},
    {%- endfor %}
    'finalized' as status,
    {{ utc_now() }} as finalized_at
from to_number
