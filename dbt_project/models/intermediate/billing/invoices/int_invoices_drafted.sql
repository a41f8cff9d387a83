{#- Invoice totals of the close window, in the order of docs/rules.md §12: what is due after fees,
    progressive-billing credit, coupons, taxes and credit notes (int_invoice_amounts_due), less
    what the customer's wallets pay (int_invoice_prepaid_credits_applied). -#}
with

amounts as (
    select *
    from {{ ref('int_invoice_amounts_due') }}
    where billing_month >= {{ billing_period_start() }} and billing_month < {{ billing_period_end() }}
),

prepaid_credits as (
    select invoice_id, {{ as_money('sum(amount)') }} as prepaid_credit_amount
    from {{ ref('int_invoice_prepaid_credits_applied') }}
    where billing_month >= {{ billing_period_start() }} and billing_month < {{ billing_period_end() }}
    group by invoice_id
)

select
    amounts.invoice_id,
    amounts.invoice_type,
    amounts.external_customer_id,
    amounts.currency,
    amounts.fees_amount,
    amounts.progressive_billing_credit_amount,
    amounts.coupons_amount,
    amounts.sub_total_excluding_taxes_amount,
    amounts.taxes_amount,
    amounts.sub_total_including_taxes_amount,
    amounts.credit_notes_amount,
    coalesce(prepaid_credits.prepaid_credit_amount, {{ as_money('0') }}) as prepaid_credit_amount,
    {{ as_money('amounts.amount_due - coalesce(prepaid_credits.prepaid_credit_amount, 0)') }} as total_amount,
    amounts.billing_month,
    amounts.issuing_date,
    amounts.billing_period_start,
    amounts.billing_period_end
from amounts
left join prepaid_credits on amounts.invoice_id = prepaid_credits.invoice_id
