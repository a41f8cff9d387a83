{{ config(materialized='ephemeral') }}

{#
    What each line of those invoices still owes before wallets (docs/rules.md §12 step 8, §15):
    its amount less coupons and progressive-billing credit, plus its precise tax, scaled by the
    share of the invoice still due (amount_due over the subtotal with taxes, which takes out
    credit notes). The first wallet's demand is built on it. Ephemeral: compiled into
    int_invoice_prepaid_credits_applied.
-#}
with

invoices as (
    select * from {{ ref('int_invoice_prepaid_credits_applied__invoices') }}
),

progressive_credits as (
    select invoice_line_id, precise_credit_amount
    from {{ ref('int_progressive_billing_credits') }}
    where billing_month >= {{ billing_period_start() }} and billing_month < {{ billing_period_end() }}
),

{# Here and in int_invoice_prepaid_credits_applied's lines_<rank>, the operands of a nested
    exact macro are columns of a subquery (nested exact macros get column operands,
    macros/money.sql). -#}
lines_0 as (
    select
        invoice_line_id,
        invoice_id,
        line_type,
        metric_code,
        {{ multiply_exact('line_owed_amount', 'due_ratio') }} as owed_amount
    from (
        select
            lines.invoice_line_id,
            lines.invoice_id,
            lines.line_type,
            lines.metric_code,
            lines.amount - lines.precise_coupons_amount - coalesce(progressive_credits.precise_credit_amount, 0)
            + lines.precise_taxes_amount as line_owed_amount,
            {{ divide_exact('invoices.amount_due', 'invoices.sub_total_including_taxes_amount') }} as due_ratio
        from {{ ref('int_invoice_lines_taxed') }} as lines
        inner join invoices on lines.invoice_id = invoices.invoice_id
        left join progressive_credits on lines.invoice_line_id = progressive_credits.invoice_line_id
        where lines.billing_month >= {{ billing_period_start() }} and lines.billing_month < {{ billing_period_end() }}
    ) as line_operands
)

select * from lines_0
