{{ config(materialized='ephemeral') }}

{#
    The invoice lines coupons can reduce (docs/rules.md §13): the lines of the close window's
    invoices, with what each still owes after its progressive-billing credit (§14), the
    remaining_amount coupons are spread over. Ephemeral: compiled into
    int_invoice_coupons_applied.
-#}
with

lines as (
    select
        lines.invoice_line_id,
        lines.invoice_id,
        lines.invoice_type,
        lines.external_customer_id,
        lines.currency,
        lines.currency_exponent,
        lines.issuing_date,
        lines.billing_month,
        lines.line_type,
        lines.plan_code,
        lines.metric_code,
        lines.amount,
        {{ as_decimal('lines.amount - coalesce(progressive_credits.precise_credit_amount, 0)') }}
            as remaining_amount
    from {{ ref('int_invoice_lines_adjusted') }} as lines
    left join {{ ref('int_progressive_billing_credits') }} as progressive_credits
        on lines.invoice_line_id = progressive_credits.invoice_line_id
    where lines.billing_month >= {{ billing_period_start() }} and lines.billing_month < {{ billing_period_end() }}
        and lines.invoice_id is not null
        -- A wallet top-up (`credit` invoice) is an advance payment: never discounted.
        and lines.invoice_type <> 'credit'
)

select * from lines
