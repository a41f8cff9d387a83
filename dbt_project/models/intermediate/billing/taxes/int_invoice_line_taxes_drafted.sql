{#- One row per invoice line and tax that applies to it (docs/rules.md §11): the precise tax on the
    line's amount after the progressive-billing credit and coupons. Several taxes add up; they do
    not compound. -#}
with

lines as (
    select invoice_line_id, invoice_id, billing_month, tax_codes, amount
    from {{ ref('int_invoice_lines_adjusted') }}
    where billing_month >= {{ billing_period_start() }} and billing_month < {{ billing_period_end() }}
),

taxes as (
    select tax_code, tax_name, tax_rate from {{ ref('stg_catalog__taxes') }}
),

progressive_credits as (
    select invoice_line_id, precise_credit_amount
    from {{ ref('int_progressive_billing_credits') }}
    where billing_month >= {{ billing_period_start() }} and billing_month < {{ billing_period_end() }}
),

coupons as (
    select invoice_line_id, sum(precise_coupon_amount) as precise_coupons_amount
    from {{ ref('int_invoice_coupons_applied') }}
    where billing_month >= {{ billing_period_start() }} and billing_month < {{ billing_period_end() }}
    group by invoice_line_id
),

bases as (
    select
        lines.*,
        {{ as_decimal(
            'lines.amount - coalesce(progressive_credits.precise_credit_amount, 0)'
            ~ ' - coalesce(coupons.precise_coupons_amount, 0)'
        ) }} as taxable_base_amount
    from lines
    left join progressive_credits on lines.invoice_line_id = progressive_credits.invoice_line_id
    left join coupons on lines.invoice_line_id = coupons.invoice_line_id
)

select
    bases.invoice_line_id,
    bases.invoice_id,
    bases.billing_month,
    taxes.tax_code,
    taxes.tax_name,
    taxes.tax_rate,
    -- The rounded fee less its shares of a progressive-billing credit (§14) and of coupons
    -- (§13): precise amounts, so the tax sees exactly what the customer is charged (§18.8).
    bases.taxable_base_amount,
    {{ percent_of('bases.taxable_base_amount', 'taxes.tax_rate') }} as precise_tax_amount
from bases
inner join taxes
    on '|' || bases.tax_codes || '|' like '%|' || taxes.tax_code || '|%'
