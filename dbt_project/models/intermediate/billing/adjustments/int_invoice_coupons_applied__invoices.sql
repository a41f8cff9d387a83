{{ config(materialized='ephemeral') }}

{#
    The close window's invoices coupons apply to (docs/rules.md §13), from their lines
    (int_invoice_coupons_applied__lines): fees_amount, the sum of the lines, tells whether the
    invoice has fees; subtotal_amount, what they still owe, is the first coupon's base.
    Ephemeral: compiled into int_invoice_coupons_applied.
-#}
with

lines as (
    select * from {{ ref('int_invoice_coupons_applied__lines') }}
),

invoices as (
    select
        invoice_id,
        external_customer_id,
        currency,
        currency_exponent,
        issuing_date,
        billing_month,
        sum(amount) as fees_amount,
        {{ as_decimal('sum(remaining_amount)') }} as subtotal_amount
    from lines
    group by invoice_id, external_customer_id, currency, currency_exponent, issuing_date, billing_month
)

select * from invoices
