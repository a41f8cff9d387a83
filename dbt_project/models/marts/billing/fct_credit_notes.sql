{#- One row per credit note (CONTRACT §4): frozen ones as finalized, the rest as drafts, with
    the credit left after the invoices that used it. -#}
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
        'draft' as status
    from {{ ref('int_credit_notes_drafted') }}
    where billing_month not in (select billing_month from {{ ref('finalized_invoices') }})
),

credit_notes as (
    select * from finalized
    union all
    select * from drafts
),

credit_used as (
    select external_customer_id, currency, sum(credit_notes_amount) as used_amount
    from {{ ref('fct_invoices') }}
    group by external_customer_id, currency
),

{#- What is left of each note: the invoices used the customer's credit oldest note first. -#}
balances as (
    select
        credit_notes.*,
        coalesce(sum(credit_notes.credit_amount) over (
            partition by credit_notes.external_customer_id, credit_notes.currency
            order by credit_notes.issuing_date, credit_notes.credit_note_id
            rows between unbounded preceding and 1 preceding
        ), 0) as credit_before_amount,
        coalesce(credit_used.used_amount, 0) as used_amount
    from credit_notes
    left join credit_used
        on credit_notes.external_customer_id = credit_used.external_customer_id
        and credit_notes.currency = credit_used.currency
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
    {{ as_money('credit_amount - least(credit_amount, greatest(0, used_amount - credit_before_amount))') }}
        as balance_amount,
    status
from balances
