{{ config(meta={'dagster': {'ref': {'name': 'fct_invoices'}}}) }}
{# Every invoice reconciles (docs/rules.md §10), recomputed from its lines, tax rows and credits in the
    order of docs/rules.md §12:
      1. fees = the sum of its rounded lines;
      3. coupons = the sum of its coupon credits = the sum of its lines' precise coupons;
      4. sub_total_excluding_taxes = fees - progressive credit - coupons;
      5. taxes = the sum of its per-tax rows = their precise sum rounded once (§11); a `credit`
         invoice is never taxed;
      6. sub_total_including_taxes = sub_total_excluding_taxes + taxes;
      7. credit notes = the sum of its credit-note credits, never beyond step 6;
      8. prepaid credits = the sum of its wallet credits; total = step 6 - 7 - 8, never below 0.
    A failing row is an invoice that would not add up on paper: the close stops before anyone
    finalizes it. -#}
with

currencies as (
    select currency, exponent from {{ ref('stg_reference__currencies') }}
),

line_totals as (
    select
        invoice_id,
        sum(amount) as lines_amount,
        sum(precise_coupons_amount) as lines_precise_coupons_amount
    from {{ ref('fct_invoice_lines') }}
    group by invoice_id
),

tax_totals as (
    select invoice_id, sum(tax_amount) as tax_rows_amount, sum(precise_tax_amount) as precise_taxes_amount
    from {{ ref('fct_invoice_taxes') }}
    group by invoice_id
),

credit_totals as (
    select
        invoice_id,
        sum(case when credit_type = 'coupon' then amount else 0 end) as coupons_amount,
        sum(case when credit_type = 'credit_note' then amount else 0 end) as credit_notes_amount,
        sum(case when credit_type = 'prepaid_credit' then amount else 0 end) as prepaid_credit_amount
    from {{ ref('fct_invoice_credits') }}
    group by invoice_id
),

recomputed as (
    select
        invoices.*,
        coalesce(line_totals.lines_amount, 0) as expected_fees_amount,
        coalesce(line_totals.lines_precise_coupons_amount, 0) as lines_precise_coupons_amount,
        coalesce(credit_totals.coupons_amount, 0) as expected_coupons_amount,
        coalesce(tax_totals.tax_rows_amount, 0) as expected_taxes_amount,
        {{ round_to_exponent('coalesce(tax_totals.precise_taxes_amount, 0)', 'currencies.exponent') }}
            as rounded_precise_taxes_amount,
        coalesce(credit_totals.credit_notes_amount, 0) as expected_credit_notes_amount,
        coalesce(credit_totals.prepaid_credit_amount, 0) as expected_prepaid_credit_amount
    from {{ ref('fct_invoices') }} as invoices
    inner join currencies on invoices.currency = currencies.currency
    left join line_totals on invoices.invoice_id = line_totals.invoice_id
    left join tax_totals on invoices.invoice_id = tax_totals.invoice_id
    left join credit_totals on invoices.invoice_id = credit_totals.invoice_id
)

select *
from recomputed
where
    fees_amount <> expected_fees_amount
    or coupons_amount <> expected_coupons_amount
    -- Precise shares are decimal(38, 9) quotients: they add up to the coupons within 1e-6.
    or abs(lines_precise_coupons_amount - coupons_amount) > 0.000001
    or sub_total_excluding_taxes_amount <> fees_amount - progressive_billing_credit_amount - coupons_amount
    or taxes_amount <> expected_taxes_amount
    or taxes_amount <> rounded_precise_taxes_amount
    or (invoice_type = 'credit' and taxes_amount <> 0)
    or sub_total_including_taxes_amount <> sub_total_excluding_taxes_amount + taxes_amount
    or credit_notes_amount <> expected_credit_notes_amount
    or credit_notes_amount > sub_total_including_taxes_amount
    or prepaid_credit_amount <> expected_prepaid_credit_amount
    or total_amount <> sub_total_including_taxes_amount - credit_notes_amount - prepaid_credit_amount
    or total_amount < 0
