{{ config(meta={'dagster': {'ref': {'name': 'fct_invoices'}}}) }}
{#- An invoice reconciles (CONTRACT §5, rule book §12): its fees are the sum of its rounded lines
    and its tax is the sum of its per-tax rows. A failing row is an invoice that would not add up
    on paper: the close must stop before anyone finalizes it. -#}
with

line_totals as (
    select invoice_id, sum(amount) as lines_amount
    from {{ ref('fct_invoice_lines') }}
    group by invoice_id
),

tax_totals as (
    select invoice_id, sum(tax_amount) as tax_rows_amount
    from {{ ref('fct_invoice_taxes') }}
    group by invoice_id
)

select
    invoices.invoice_id,
    invoices.fees_amount,
    line_totals.lines_amount,
    invoices.taxes_amount,
    tax_totals.tax_rows_amount
from {{ ref('fct_invoices') }} as invoices
left join line_totals on invoices.invoice_id = line_totals.invoice_id
left join tax_totals on invoices.invoice_id = tax_totals.invoice_id
where
    invoices.fees_amount <> coalesce(line_totals.lines_amount, 0)
    or invoices.taxes_amount <> coalesce(tax_totals.tax_rows_amount, 0)
