{#- What reduced each invoice of the close window after its fees, one row per source: each coupon
    (§13), each credit note (§12 step 7: notes are used oldest first, so an invoice's share of a
    note is the overlap of its place in the customer's running credit used with the note's place
    in the running credit issued) and each wallet (§15). Per invoice they add up to
    coupons_amount, credit_notes_amount and prepaid_credit_amount. -#}
with

coupons as (
    select distinct
        invoice_id, external_customer_id, currency, billing_month, applied_coupon_id, coupon_code,
        credit_amount as amount
    from {{ ref('int_invoice_coupons_applied') }}
    where billing_month >= {{ billing_period_start() }} and billing_month < {{ billing_period_end() }}
        and credit_amount > 0
),

credit_used as (
    select
        invoice_id,
        external_customer_id,
        currency,
        billing_month,
        sum(credit_notes_amount) over customer_invoices - credit_notes_amount as used_from_amount,
        sum(credit_notes_amount) over customer_invoices as used_to_amount
    from {{ ref('int_invoice_amounts_due') }}
    window customer_invoices as (
        partition by external_customer_id, currency order by issuing_date, invoice_id
        rows between unbounded preceding and current row
    )
),

credit_issued as (
    select
        credit_note_id,
        external_customer_id,
        currency,
        sum(credit_amount) over customer_notes - credit_amount as issued_from_amount,
        sum(credit_amount) over customer_notes as issued_to_amount
    from {{ ref('int_credit_notes_drafted') }}
    window customer_notes as (
        partition by external_customer_id, currency order by issuing_date, created_at, credit_note_id
        rows between unbounded preceding and current row
    )
),

credit_notes as (
    select
        credit_used.invoice_id,
        credit_used.external_customer_id,
        credit_used.currency,
        credit_used.billing_month,
        credit_issued.credit_note_id,
        least(credit_used.used_to_amount, credit_issued.issued_to_amount)
        - greatest(credit_used.used_from_amount, credit_issued.issued_from_amount) as amount
    from credit_used
    inner join credit_issued
        on credit_used.external_customer_id = credit_issued.external_customer_id
        and credit_used.currency = credit_issued.currency
        and credit_used.used_from_amount < credit_issued.issued_to_amount
        and credit_issued.issued_from_amount < credit_used.used_to_amount
    where credit_used.billing_month >= {{ billing_period_start() }}
        and credit_used.billing_month < {{ billing_period_end() }}
),

prepaid_credits as (
    select invoice_id, external_customer_id, currency, billing_month, wallet_code, amount
    from {{ ref('int_invoice_prepaid_credits_applied') }}
    where billing_month >= {{ billing_period_start() }} and billing_month < {{ billing_period_end() }}
),

credits as (
    select
        invoice_id, external_customer_id, currency, billing_month, 'coupon' as credit_type,
        applied_coupon_id, coupon_code, cast(null as varchar) as credit_note_id, cast(null as varchar) as wallet_code,
        amount
    from coupons
    union all
    select
        invoice_id, external_customer_id, currency, billing_month, 'credit_note' as credit_type,
        cast(null as varchar) as applied_coupon_id, cast(null as varchar) as coupon_code, credit_note_id,
        cast(null as varchar) as wallet_code, amount
    from credit_notes
    union all
    select
        invoice_id, external_customer_id, currency, billing_month, 'prepaid_credit' as credit_type,
        cast(null as varchar) as applied_coupon_id, cast(null as varchar) as coupon_code,
        cast(null as varchar) as credit_note_id, wallet_code, amount
    from prepaid_credits
)

select
    {{ hash_key(['invoice_id', 'credit_type', "coalesce(applied_coupon_id, credit_note_id, wallet_code)"]) }}
        as invoice_credit_id,
    invoice_id,
    external_customer_id,
    currency,
    billing_month,
    credit_type,
    applied_coupon_id,
    coupon_code,
    credit_note_id,
    wallet_code,
    {{ as_money('amount') }} as amount
from credits
