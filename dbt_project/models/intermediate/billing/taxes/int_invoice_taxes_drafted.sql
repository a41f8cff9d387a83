{#- One row per invoice and tax (docs/rules.md §11): the precise per-tax sums. The invoice's tax is
    rounded once over their total; each row's rounded amount absorbs the rounding difference on
    the largest row so that the rows add up to the invoice tax (the books must balance). -#}
with

line_taxes as (
    select invoice_id, billing_month, tax_code, tax_name, tax_rate, taxable_base_amount, precise_tax_amount
    from {{ ref('int_invoice_line_taxes_drafted') }}
    where billing_month >= {{ billing_period_start() }} and billing_month < {{ billing_period_end() }}
        and invoice_id is not null
),

invoices as (
    select distinct invoice_id, currency_exponent
    from {{ ref('int_invoice_lines_adjusted') }}
    where billing_month >= {{ billing_period_start() }} and billing_month < {{ billing_period_end() }}
),

per_tax as (
    select
        line_taxes.invoice_id,
        line_taxes.billing_month,
        line_taxes.tax_code,
        line_taxes.tax_name,
        line_taxes.tax_rate,
        invoices.currency_exponent,
        {{ as_decimal('sum(line_taxes.taxable_base_amount)') }} as taxable_base_amount,
        {{ as_decimal('sum(line_taxes.precise_tax_amount)') }} as precise_tax_amount
    from line_taxes
    inner join invoices on line_taxes.invoice_id = invoices.invoice_id
    group by
        line_taxes.invoice_id,
        line_taxes.billing_month,
        line_taxes.tax_code,
        line_taxes.tax_name,
        line_taxes.tax_rate,
        invoices.currency_exponent
),

rounded as (
    select
        *,
        {{ round_to_exponent('precise_tax_amount', 'currency_exponent') }} as rounded_tax_amount,
        {{ round_to_exponent('sum(precise_tax_amount) over (partition by invoice_id)', 'currency_exponent') }}
            as invoice_tax_amount,
        row_number() over (
            partition by invoice_id order by precise_tax_amount desc, tax_code asc
        ) as size_rank
    from per_tax
)

select
    {{ hash_key(['invoice_id', 'tax_code']) }} as invoice_tax_id,
    invoice_id,
    billing_month,
    tax_code,
    tax_name,
    tax_rate,
    -- Rounded for the invoice, like Lago's taxable_base_amount_cents; the tax uses the precise sum.
    {{ as_decimal(round_to_exponent('taxable_base_amount', 'currency_exponent')) }} as taxable_base_amount,
    precise_tax_amount,
    {{ as_money(
        "rounded_tax_amount + case when size_rank = 1 then invoice_tax_amount - "
        ~ "sum(rounded_tax_amount) over (partition by invoice_id) else 0 end"
    ) }} as tax_amount
from rounded
