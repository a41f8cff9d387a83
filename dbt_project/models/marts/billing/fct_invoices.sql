{#- One row per invoice: frozen ones as finalized, the rest of the closed months as drafts. -#}
with

finalized as (
    select
        invoice_id,
        invoice_number,
        status,
        invoice_type,
        external_customer_id,
        currency,
        fees_amount,
        progressive_billing_credit_amount,
        coupons_amount,
        sub_total_excluding_taxes_amount,
        taxes_amount,
        sub_total_including_taxes_amount,
        credit_notes_amount,
        prepaid_credit_amount,
        total_amount,
        billing_month,
        issuing_date,
        billing_period_start,
        billing_period_end,
        finalized_at
    from {{ ref('finalized_invoices') }}
),

drafts as (
    select
        invoice_id,
        cast(null as varchar) as invoice_number,
        'draft' as status,
        invoice_type,
        external_customer_id,
        currency,
        fees_amount,
        progressive_billing_credit_amount,
        coupons_amount,
        sub_total_excluding_taxes_amount,
        taxes_amount,
        sub_total_including_taxes_amount,
        credit_notes_amount,
        prepaid_credit_amount,
        total_amount,
        billing_month,
        issuing_date,
        billing_period_start,
        billing_period_end,
        cast(null as timestamp) as finalized_at
    from {{ ref('int_invoices_drafted') }}
    -- A finalized month shows its frozen invoices only (CONTRACT §6).
    where billing_month not in (select billing_month from finalized)
),

invoices as (
    select * from finalized
    union all
    select * from drafts
)

select * from invoices
