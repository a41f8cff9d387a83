{#- One row per credit note (CONTRACT §4): frozen ones as finalized, the rest as drafts. -#}
with

finalized as (
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
        balance_amount,
        status
    from {{ ref('finalized_credit_notes') }}
),

drafts as (
    select
        credit_note_id,
        cast(null as varchar) as credit_note_number,
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
        balance_amount,
        'draft' as status
    from {{ ref('int_credit_notes_drafted') }}
    where billing_month not in (select billing_month from {{ ref('finalized_invoices') }})
),

credit_notes as (
    select * from finalized
    union all
    select * from drafts
)

select * from credit_notes
