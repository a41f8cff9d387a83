{#-
    Credit note items issued by the close window (docs/rules.md §16), one per credited invoice line:
    the unused days of terminations and upgrades, what late data took off finalized lines
    (`restatement`, int_invoice_restatements), and the manual notes of `credit_notes/` (a note
    without invoice_line_id is spread over the invoice's lines in proportion to their amounts,
    rounded to the currency, the largest line taking the rounding difference).

    Per item, like Lago's credit_notes/apply_taxes_service: the coupon adjustment is
    item / line amount x the line's precise coupons, and the precise tax is (item - adjustment)
    x the line's tax rates. int_credit_notes_drafted rounds them per note. Manual notes credit
    frozen lines, read as earlier state (macros/frozen_state.sql).
-#}
{%- set frozen_lines = frozen_relation(source('ledger', 'finalized_invoice_lines')) -%}
with

termination_items as (
    select *
    from {{ ref('int_termination_credit_note_items') }}
    where billing_month >= {{ billing_period_start() }} and billing_month < {{ billing_period_end() }}
),

manual_notes as (
    select
        landing_credit_note_id as credit_note_id,
        invoice_id,
        invoice_line_id,
        external_customer_id,
        amount,
        description,
        issuing_date,
        created_at,
        {{ trunc_date('month', 'issuing_date') }} as billing_month
    from {{ ref('int_manual_credit_notes_validated') }}
    where rejection_reason is null
),

finalized_lines as (
    {% if frozen_lines %}
    select
        invoice_line_id, invoice_id, external_subscription_id, description, currency, amount,
        precise_coupons_amount, taxes_rate, tax_codes
    from {{ frozen_lines }}
    where invoice_id is not null
    {% else %}
    select
        invoice_line_id, invoice_id, external_subscription_id, description, currency, amount,
        precise_coupons_amount, taxes_rate, tax_codes
    from {{ ref('int_invoice_lines_taxed') }}
    where false
    {% endif %}
),

draft_lines as (
    select
        invoice_line_id, invoice_id, external_subscription_id, description, currency, amount,
        precise_coupons_amount, taxes_rate, tax_codes
    from {{ ref('int_invoice_lines_taxed') }}
    where invoice_id is not null
),

manual_lines as (
    select
        manual_notes.*,
        finalized_lines.invoice_line_id as credited_line_id,
        finalized_lines.external_subscription_id,
        finalized_lines.description as line_description,
        finalized_lines.currency,
        finalized_lines.amount as line_amount,
        finalized_lines.precise_coupons_amount,
        finalized_lines.taxes_rate,
        finalized_lines.tax_codes,
        sum(finalized_lines.amount) over (partition by manual_notes.credit_note_id) as credited_lines_amount,
        row_number() over (
            partition by manual_notes.credit_note_id
            order by finalized_lines.amount desc, finalized_lines.invoice_line_id asc
        ) as size_rank
    from manual_notes
    inner join finalized_lines
        on manual_notes.invoice_id = finalized_lines.invoice_id
        and coalesce(manual_notes.invoice_line_id, finalized_lines.invoice_line_id) = finalized_lines.invoice_line_id
    where manual_notes.billing_month >= {{ billing_period_start() }}
        and manual_notes.billing_month < {{ billing_period_end() }}
        and finalized_lines.amount > 0
),

currencies as (
    select currency, exponent from {{ ref('stg_reference__currencies') }}
),

{# Each exact step in a column the next one reads (nested exact macros get column operands,
    macros/money.sql). -#}
manual_spread as (
    select
        *,
        {{ round_to_exponent('spread_share', 'currency_exponent') }} as spread_amount
    from (
        select *, {{ divide_exact('spread_product', 'credited_lines_amount') }} as spread_share
        from (
            select
                manual_lines.*,
                currencies.exponent as currency_exponent,
                {{ multiply_exact('manual_lines.amount', 'manual_lines.line_amount') }} as spread_product
            from manual_lines
            inner join currencies on manual_lines.currency = currencies.currency
        ) as spread_products
    ) as spread_shares
),

manual_items as (
    select
        credit_note_id,
        invoice_id,
        credited_line_id as invoice_line_id,
        external_customer_id,
        external_subscription_id,
        'manual' as reason,
        description,
        issuing_date,
        created_at,
        billing_month,
        currency,
        line_description,
        line_amount,
        precise_coupons_amount,
        taxes_rate,
        tax_codes,
        spread_amount + case
            when size_rank = 1 then amount - sum(spread_amount) over (partition by credit_note_id) else 0
        end as item_amount
    from manual_spread
),

{# One restatement note per finalized invoice and close, issued on the last day of the month
    it settles in, crediting each line by what it lost (never more than the line). -#}
restatement_items as (
    select
        {{ hash_key(['restatements.invoice_id', "'restatement'", 'restatements.settlement_month']) }}
            as credit_note_id,
        restatements.invoice_id,
        restatements.invoice_line_id,
        restatements.external_customer_id,
        finalized_lines.external_subscription_id,
        'restatement' as reason,
        'Restatement of ' || restatements.invoice_number as description,
        {{ add_days(add_months('restatements.settlement_month', 1), -1) }} as issuing_date,
        cast({{ add_days(add_months('restatements.settlement_month', 1), -1) }} as timestamp) as created_at,
        restatements.settlement_month as billing_month,
        finalized_lines.currency,
        finalized_lines.description as line_description,
        finalized_lines.amount as line_amount,
        finalized_lines.precise_coupons_amount,
        finalized_lines.taxes_rate,
        finalized_lines.tax_codes,
        least(-restatements.outstanding_amount, finalized_lines.amount) as item_amount
    from {{ ref('int_invoice_restatements') }} as restatements
    inner join finalized_lines on restatements.invoice_line_id = finalized_lines.invoice_line_id
    where restatements.outstanding_amount < 0
        and restatements.settlement_month >= {{ billing_period_start() }}
        and restatements.settlement_month < {{ billing_period_end() }}
),

items as (
    select
        termination_items.credit_note_id,
        termination_items.invoice_id,
        termination_items.invoice_line_id,
        termination_items.external_customer_id,
        termination_items.external_subscription_id,
        termination_items.reason,
        termination_items.description,
        termination_items.issuing_date,
        termination_items.created_at,
        termination_items.billing_month,
        termination_items.currency,
        draft_lines.description as line_description,
        draft_lines.amount as line_amount,
        draft_lines.precise_coupons_amount,
        draft_lines.taxes_rate,
        draft_lines.tax_codes,
        termination_items.item_amount
    from termination_items
    inner join draft_lines on termination_items.invoice_line_id = draft_lines.invoice_line_id
    union all
    select * from manual_items
    union all
    select * from restatement_items
)

select
    {{ hash_key(['items.credit_note_id', 'items.invoice_line_id']) }} as credit_note_item_id,
    items.credit_note_id,
    items.invoice_id,
    items.invoice_line_id,
    items.external_customer_id,
    items.external_subscription_id,
    items.reason,
    items.description,
    items.line_description,
    items.issuing_date,
    items.created_at,
    items.billing_month,
    items.currency,
    items.currency_exponent,
    items.tax_codes,
    {{ as_money('items.item_amount') }} as item_amount,
    -- Each exact step a column of the subqueries below (nested exact macros get column operands,
    -- macros/money.sql).
    {{ as_decimal('items.precise_coupons_adjustment') }} as precise_coupons_adjustment_amount,
    {{ as_decimal(percent_of('items.taxable_amount', 'items.taxes_rate')) }} as precise_taxes_amount
from (
    select *, item_amount - precise_coupons_adjustment as taxable_amount
    from (
        select
            *,
            case when line_amount = 0 then 0 else {{ divide_exact('coupons_product', 'line_amount') }} end
                as precise_coupons_adjustment
        from (
            select
                items.*,
                currencies.exponent as currency_exponent,
                case when items.line_amount = 0 then null
                    else {{ multiply_exact('items.item_amount', 'items.precise_coupons_amount') }}
                end as coupons_product
            from items
            inner join currencies on items.currency = currencies.currency
        ) as with_products
    ) as with_adjustments
) as items
