{#-
    Credit notes issued by the close window (docs/rules.md §16), one row per note, from its items:
    the coupon adjustment, the subtotal after it and the taxes, each rounded to the currency.

    Successive notes on one invoice track precise amounts: a note's rounded amounts are the
    rounded running totals of the invoice's notes so far less those of the notes before it. So
    the notes of an invoice add up to what crediting it all at once would give, never more than
    the invoice (two fees of 68.33 at 20 % credited one by one: 82.00 then 81.99, §16), and
    total = subtotal + taxes holds for every note (the ±1 cent rule).

    The whole note is credit (`credit_amount`) for the customer's next invoices
    (int_invoices_drafted); what is left of it changes as they use it, so only
    billing.fct_credit_notes shows it (`balance_amount`).
-#}
with

items as (
    select *
    from {{ ref('int_credit_note_items_drafted') }}
    where billing_month >= {{ billing_period_start() }} and billing_month < {{ billing_period_end() }}
),

notes as (
    select
        credit_note_id,
        invoice_id,
        case when count(*) = 1 then max(invoice_line_id) end as invoice_line_id,
        external_customer_id,
        max(external_subscription_id) as external_subscription_id,
        reason,
        description,
        issuing_date,
        created_at,
        billing_month,
        currency,
        currency_exponent,
        {{ as_decimal('sum(precise_coupons_adjustment_amount)') }} as precise_coupons_adjustment_amount,
        {{ as_decimal('sum(item_amount - precise_coupons_adjustment_amount)') }} as precise_sub_total_amount,
        {{ as_decimal('sum(precise_taxes_amount)') }} as precise_taxes_amount
    from items
    group by
        credit_note_id, invoice_id, external_customer_id, reason, description, issuing_date, created_at,
        billing_month, currency, currency_exponent
),

{% if is_incremental() %}
earlier as (
    select
        invoice_id,
        max(cumulative_precise_coupons_adjustment_amount) as coupons_adjustment_amount,
        max(cumulative_precise_sub_total_amount) as sub_total_amount,
        max(cumulative_precise_taxes_amount) as taxes_amount
    from {{ this }}
    where billing_month < {{ billing_period_start() }}
    group by invoice_id
),
{% else %}
earlier as (
    select
        cast(null as varchar) as invoice_id,
        {{ as_decimal('0') }} as coupons_adjustment_amount,
        {{ as_decimal('0') }} as sub_total_amount,
        {{ as_decimal('0') }} as taxes_amount
    where false
),
{% endif %}

cumulated as (
    select
        notes.*,
        {{ as_decimal(
            'coalesce(earlier.coupons_adjustment_amount, 0)'
            ~ ' + sum(notes.precise_coupons_adjustment_amount) over invoice_notes'
        ) }}
            as cumulative_precise_coupons_adjustment_amount,
        {{ as_decimal(
            'coalesce(earlier.sub_total_amount, 0) + sum(notes.precise_sub_total_amount) over invoice_notes'
        ) }}
            as cumulative_precise_sub_total_amount,
        {{ as_decimal(
            'coalesce(earlier.taxes_amount, 0) + sum(notes.precise_taxes_amount) over invoice_notes'
        ) }}
            as cumulative_precise_taxes_amount
    from notes
    left join earlier on notes.invoice_id = earlier.invoice_id
    window invoice_notes as (
        partition by notes.invoice_id order by notes.issuing_date, notes.created_at, notes.credit_note_id
        rows between unbounded preceding and current row
    )
),

rounded as (
    select
        *,
        -- A note's share of a running total: round(total so far) - round(total before it).
        {{ as_money(
            round_to_exponent('cumulative_precise_coupons_adjustment_amount', 'currency_exponent')
            ~ ' - '
            ~ round_to_exponent(
                'cumulative_precise_coupons_adjustment_amount - precise_coupons_adjustment_amount', 'currency_exponent'
            )
        ) }}
            as coupons_adjustment_amount,
        {{ as_money(
            round_to_exponent('cumulative_precise_sub_total_amount', 'currency_exponent')
            ~ ' - '
            ~ round_to_exponent('cumulative_precise_sub_total_amount - precise_sub_total_amount', 'currency_exponent')
        ) }}
            as sub_total_excluding_taxes_amount,
        {{ as_money(
            round_to_exponent('cumulative_precise_taxes_amount', 'currency_exponent')
            ~ ' - '
            ~ round_to_exponent('cumulative_precise_taxes_amount - precise_taxes_amount', 'currency_exponent')
        ) }}
            as taxes_amount
    from cumulated
)

select
    credit_note_id,
    invoice_id,
    invoice_line_id,
    external_customer_id,
    external_subscription_id,
    reason,
    description,
    issuing_date,
    created_at,
    billing_month,
    currency,
    sub_total_excluding_taxes_amount,
    coupons_adjustment_amount,
    taxes_amount,
    {{ as_money('sub_total_excluding_taxes_amount + taxes_amount') }} as total_amount,
    {{ as_money('sub_total_excluding_taxes_amount + taxes_amount') }} as credit_amount,
    {{ as_money('0') }} as refund_amount,
    cumulative_precise_coupons_adjustment_amount,
    cumulative_precise_sub_total_amount,
    cumulative_precise_taxes_amount
from rounded
