{#- What each invoice of the close window asks for before prepaid credits, in the order of rule
    book §12: fees, progressive-billing credit, coupons, taxes, then credit notes. Wallets pay
    what is left (int_invoice_prepaid_credits_applied). -#}
with

lines as (
    select
        invoice_id, invoice_type, external_customer_id, currency, issuing_date, billing_month, amount,
        invoice_period_start, invoice_period_end
    from {{ ref('int_invoice_lines_taxed') }}
    where billing_month >= {{ billing_period_start() }} and billing_month < {{ billing_period_end() }}
        -- Not-invoiceable pay-in-advance fees have no invoice (docs/conventions.md).
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

coupons as (
    select invoice_id, {{ as_money('sum(credit_amount)') }} as coupons_amount
    from (
        select distinct invoice_id, applied_coupon_id, credit_amount
        from {{ ref('int_invoice_coupons_applied') }}
        where billing_month >= {{ billing_period_start() }} and billing_month < {{ billing_period_end() }}
    ) as applied
    group by invoice_id
),

progressive_credits as (
    select invoice_id, {{ as_money('sum(precise_credit_amount)') }} as credit_amount
    from {{ ref('int_progressive_billing_credits') }}
    where billing_month >= {{ billing_period_start() }} and billing_month < {{ billing_period_end() }}
    group by invoice_id
),

before_credit_notes as (
    select
        fees.*,
        coalesce(progressive_credits.credit_amount, {{ as_money('0') }}) as progressive_billing_credit_amount,
        coalesce(coupons.coupons_amount, {{ as_money('0') }}) as coupons_amount,
        coalesce(invoice_taxes.taxes_amount, {{ as_money('0') }}) as taxes_amount
    from fees
    left join invoice_taxes on fees.invoice_id = invoice_taxes.invoice_id
    left join coupons on fees.invoice_id = coupons.invoice_id
    left join progressive_credits on fees.invoice_id = progressive_credits.invoice_id
),

{# Credit notes (§9 termination, §12 step 7): a customer's credit, oldest first, pays the
    invoices issued from the note's day on (the termination invoice itself included), in
    issuing order, never beyond an invoice's total. With T the invoices' totals, S their running
    sum and C the credit issued up to each invoice's day, the credit used up to invoice k is
    U(k) = min(U(k-1) + T(k), C(k)), that is min(U(0) + S(k), min over j <= k of C(j) + S(k) - S(j)),
    U(0) being what the invoices of earlier closes used. -#}
payable as (
    select
        *,
        {{ as_money('fees_amount - progressive_billing_credit_amount - coupons_amount + taxes_amount') }}
            as sub_total_including_taxes_amount,
    -- A wallet top-up (`credit` invoice) is an advance payment: credit notes never pay it.
        {{ as_money(
            "case when invoice_type = 'credit' then 0"
            ~ " else fees_amount - progressive_billing_credit_amount - coupons_amount + taxes_amount end"
        ) }} as payable_amount
    from before_credit_notes
),

credit_issued as (
    select payable.invoice_id, coalesce(sum(notes.credit_amount), 0) as credit_issued_amount
    from payable
    left join {{ ref('int_credit_notes_drafted') }} as notes
        on payable.external_customer_id = notes.external_customer_id
        and payable.currency = notes.currency
        and notes.issuing_date <= payable.issuing_date
        -- A note never pays the invoice it credits (a subscription created and terminated the
        -- same day has its fee and the note crediting it on one day).
        and notes.invoice_id is distinct from payable.invoice_id
    group by payable.invoice_id
),

credit_used_before as (
    {% if is_incremental() %}
    select external_customer_id, currency, sum(credit_notes_amount) as used_amount
    from {{ this }}
    where billing_month < {{ billing_period_start() }}
    group by external_customer_id, currency
    {% else %}
    select
        cast(null as varchar) as external_customer_id, cast(null as varchar) as currency,
        {{ as_money('0') }} as used_amount
    where false
    {% endif %}
),

credit_running as (
    select
        payable.*,
        coalesce(credit_used_before.used_amount, 0) as used_before_amount,
        sum(payable.payable_amount) over customer_order as running_payable_amount,
        min(credit_issued.credit_issued_amount - running.running_payable_amount) over customer_order
            as tightest_credit_amount
    from payable
    inner join credit_issued on payable.invoice_id = credit_issued.invoice_id
    inner join (
        select
            payable_in_order.invoice_id,
            sum(payable_in_order.payable_amount) over customer_order as running_payable_amount
        from payable as payable_in_order
        window customer_order as (
            partition by payable_in_order.external_customer_id, payable_in_order.currency
            order by payable_in_order.issuing_date, payable_in_order.invoice_id
            rows between unbounded preceding and current row
        )
    ) as running on payable.invoice_id = running.invoice_id
    left join credit_used_before
        on payable.external_customer_id = credit_used_before.external_customer_id
        and payable.currency = credit_used_before.currency
    window customer_order as (
        partition by payable.external_customer_id, payable.currency order by payable.issuing_date, payable.invoice_id
        rows between unbounded preceding and current row
    )
),

credit_used as (
    select
        *,
        least(used_before_amount + running_payable_amount, running_payable_amount + tightest_credit_amount)
            as used_to_date_amount
    from credit_running
),

totals as (
    select
        credit_used.*,
        {{ as_money(
            'used_to_date_amount - coalesce(lag(used_to_date_amount) over ('
            ~ 'partition by external_customer_id, currency order by issuing_date, invoice_id), used_before_amount)'
        ) }} as credit_notes_amount
    from credit_used
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
    sub_total_including_taxes_amount,
    credit_notes_amount,
    {{ as_money('sub_total_including_taxes_amount - credit_notes_amount') }} as amount_due,
    billing_month,
    issuing_date,
    billing_period_start,
    billing_period_end
from totals
