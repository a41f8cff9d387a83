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
        payment_due_date,
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
        -- docs/tables.md: the issuing date plus the customer's (else the entity's) net payment term.
        {{ add_days('issuing_date', 'coalesce(payment_terms.net_payment_term, 0)') }} as payment_due_date,
        cast(null as timestamp) as finalized_at
    from {{ ref('int_invoices_drafted') }}
    left join (
        select external_customer_id, net_payment_term from {{ ref('int_customers_deduplicated') }}
    ) as payment_terms using (external_customer_id)
    -- A finalized month shows its frozen invoices only (docs/conventions.md).
    where {{ is_unfinalized_month('finalized') }}
),

invoices as (
    select * from finalized
    union all
    select * from drafts
)

select * from invoices
