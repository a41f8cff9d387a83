{#- Invoice totals of the close window, in the order of rule book §12: fees, progressive-billing
    credit, coupons, taxes, credit notes, prepaid credits. Credits, coupons, credit notes and
    wallets arrive with issues #4 and #5 and are zero until then. -#}
with

lines as (
    select
        invoice_id, invoice_type, external_customer_id, currency, issuing_date, billing_month, amount,
        invoice_period_start, invoice_period_end
    from {{ ref('int_invoice_lines_taxed') }}
    where billing_month >= {{ billing_period_start() }} and billing_month < {{ billing_period_end() }}
        -- Not-invoiceable pay-in-advance fees have no invoice (CONTRACT §7).
        and invoice_id is not null
),

invoice_taxes as (
    select invoice_id, {{ as_money('sum(tax_amount)') }} as taxes_amount
    from {{ ref('int_invoice_taxes_drafted') }}
    where billing_month >= {{ billing_period_start() }} and billing_month < {{ billing_period_end() }}
    group by invoice_id
),

fees as (
    select
        invoice_id,
        invoice_type,
        external_customer_id,
        currency,
        issuing_date,
        billing_month,
        min(invoice_period_start) as billing_period_start,
        max(invoice_period_end) as billing_period_end,
        {{ as_money('sum(amount)') }} as fees_amount
    from lines
    group by invoice_id, invoice_type, external_customer_id, currency, issuing_date, billing_month
),

totals as (
    select
        fees.*,
        {{ as_money('0') }} as progressive_billing_credit_amount,
        {{ as_money('0') }} as coupons_amount,
        coalesce(invoice_taxes.taxes_amount, {{ as_money('0') }}) as taxes_amount,
        {{ as_money('0') }} as credit_notes_amount,
        {{ as_money('0') }} as prepaid_credit_amount
    from fees
    left join invoice_taxes on fees.invoice_id = invoice_taxes.invoice_id
)

select
    invoice_id,
    invoice_type,
    external_customer_id,
    currency,
    fees_amount,
    progressive_billing_credit_amount,
    coupons_amount,
    {{ as_money('fees_amount - progressive_billing_credit_amount - coupons_amount') }}
        as sub_total_excluding_taxes_amount,
    taxes_amount,
    {{ as_money('fees_amount - progressive_billing_credit_amount - coupons_amount + taxes_amount') }}
        as sub_total_including_taxes_amount,
    credit_notes_amount,
    prepaid_credit_amount,
    {{ as_money(
        'fees_amount - progressive_billing_credit_amount - coupons_amount + taxes_amount'
        ~ ' - credit_notes_amount - prepaid_credit_amount'
    ) }} as total_amount,
    billing_month,
    issuing_date,
    billing_period_start,
    billing_period_end
from totals
