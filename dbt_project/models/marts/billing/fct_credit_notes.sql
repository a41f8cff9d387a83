{#- One row per credit note (docs/tables.md): frozen ones as finalized, the rest as drafts, with
    the credit left after the invoices that used it (fct_invoice_credits). -#}
with

finalized as (
    select
        credit_note_id,
        credit_note_number,
        {%- for column in credit_note_columns() %}
        {{ column }},
        {%- endfor %}
        status
    from {{ ref('finalized_credit_notes') }}
),

drafts as (
    select
        credit_note_id,
        cast(null as varchar) as credit_note_number,
        {%- for column in credit_note_columns() %}
        {{ column }},
        {%- endfor %}
        'draft' as status
    from {{ ref('int_credit_notes_drafted') }}
    where {{ is_unfinalized_month(ref('finalized_invoices')) }}
),

credit_notes as (
    select * from finalized
    union all
    select * from drafts
),

{# What is left of each note: its credit less what invoices used of it. -#}
credit_used as (
    select credit_note_id, sum(amount) as used_amount
    from {{ ref('fct_invoice_credits') }}
    where credit_type = 'credit_note'
    group by credit_note_id
),

balances as (
    select credit_notes.*, coalesce(credit_used.used_amount, 0) as used_amount
    from credit_notes
    left join credit_used on credit_notes.credit_note_id = credit_used.credit_note_id
)

select
    credit_note_id,
    credit_note_number,
    invoice_id,
    invoice_line_id,
    external_customer_id,
    external_subscription_id,
    reason,
    description,
    issuing_date,
    billing_month,
    currency,
    sub_total_excluding_taxes_amount,
    coupons_adjustment_amount,
    taxes_amount,
    total_amount,
    credit_amount,
    refund_amount,
    {{ as_money('credit_amount - used_amount') }} as balance_amount,
    status
from balances
