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
)

select
    lines.invoice_line_id,
    lines.invoice_id,
    lines.billing_month,
    taxes.tax_code,
    taxes.tax_name,
    taxes.tax_rate,
    -- Coupons arrive with issue #5; until then the taxable base is the rounded fee amount.
    {{ as_decimal('lines.amount') }} as taxable_base_amount,
    {{ as_decimal('lines.amount * taxes.tax_rate * 0.01') }} as precise_tax_amount
from lines
inner join taxes
    on '|' || lines.tax_codes || '|' like '%|' || taxes.tax_code || '|%'
