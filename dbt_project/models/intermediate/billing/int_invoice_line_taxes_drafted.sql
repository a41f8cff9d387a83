{#- One row per invoice line and tax that applies to it (rule book §11): the precise tax on the
    line's post-coupon amount. Several taxes add up; they do not compound. -#}
with

lines as (
    select invoice_line_id, invoice_id, billing_month, tax_codes, amount
    from {{ ref('int_invoice_lines_drafted') }}
    where billing_month >= {{ billing_period_start() }} and billing_month < {{ billing_period_end() }}
),

taxes as (
    select tax_code, tax_name, tax_rate from {{ ref('stg_catalog__taxes') }}
),

progressive_credits as (
    select invoice_line_id, precise_credit_amount
    from {{ ref('int_progressive_billing_credits') }}
    where billing_month >= {{ billing_period_start() }} and billing_month < {{ billing_period_end() }}
)

select
    lines.invoice_line_id,
    lines.invoice_id,
    lines.billing_month,
    taxes.tax_code,
    taxes.tax_name,
    taxes.tax_rate,
    -- The rounded fee less its share of a progressive-billing credit (§14); coupons arrive with
    -- issue #5.
    {{ as_decimal('lines.amount - coalesce(progressive_credits.precise_credit_amount, 0)') }} as taxable_base_amount,
    {{ as_decimal('(lines.amount - coalesce(progressive_credits.precise_credit_amount, 0)) * taxes.tax_rate * 0.01') }}
        as precise_tax_amount
from lines
inner join taxes
    on '|' || lines.tax_codes || '|' like '%|' || taxes.tax_code || '|%'
left join progressive_credits on lines.invoice_line_id = progressive_credits.invoice_line_id
