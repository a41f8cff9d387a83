{#- One row per credit note and tax (docs/rules.md §11, §16): the precise tax of the note's items,
    each row rounded, the largest absorbing the difference so that the rows add up to the note's
    taxes_amount (the books reverse tax per rate and must balance). -#}
with

items as (
    select credit_note_id, billing_month, tax_codes, item_amount, precise_coupons_adjustment_amount
    from {{ ref('int_credit_note_items_drafted') }}
    where billing_month >= {{ billing_period_start() }} and billing_month < {{ billing_period_end() }}
),

notes as (
    select credit_note_id, currency, taxes_amount
    from {{ ref('int_credit_notes_drafted') }}
    where billing_month >= {{ billing_period_start() }} and billing_month < {{ billing_period_end() }}
),

currencies as (
    select currency, exponent from {{ ref('stg_reference__currencies') }}
),

per_tax as (
    select
        items.credit_note_id,
        items.billing_month,
        taxes.tax_code,
        taxes.tax_name,
        taxes.tax_rate,
        {{ as_decimal('sum(items.item_amount - items.precise_coupons_adjustment_amount)') }} as taxable_base_amount,
        -- The rate times the sum equals the sum of the rate times each item, rounded once
        -- (percent_of: exact to 29 integer digits, docs/bad-input.md).
        {{ as_decimal(percent_of(
            'sum(items.item_amount - items.precise_coupons_adjustment_amount)', 'taxes.tax_rate')) }}
            as precise_tax_amount
    from items
    inner join {{ ref('stg_catalog__taxes') }} as taxes
        on '|' || items.tax_codes || '|' like '%|' || taxes.tax_code || '|%'
    group by items.credit_note_id, items.billing_month, taxes.tax_code, taxes.tax_name, taxes.tax_rate
),

rounded as (
    select
        per_tax.*,
        notes.taxes_amount as note_taxes_amount,
        currencies.exponent,
        {{ round_to_exponent('per_tax.precise_tax_amount', 'currencies.exponent') }} as rounded_tax_amount,
        row_number() over (
            partition by per_tax.credit_note_id order by per_tax.precise_tax_amount desc, per_tax.tax_code asc
        ) as size_rank
    from per_tax
    inner join notes on per_tax.credit_note_id = notes.credit_note_id
    inner join currencies on notes.currency = currencies.currency
)

select
    {{ hash_key(['credit_note_id', 'tax_code']) }} as credit_note_tax_id,
    credit_note_id,
    billing_month,
    tax_code,
    tax_name,
    tax_rate,
    {{ round_to_exponent('taxable_base_amount', 'exponent') }} as taxable_base_amount,
    {{ as_money(
        "rounded_tax_amount + case when size_rank = 1 then note_taxes_amount - "
        ~ "sum(rounded_tax_amount) over (partition by credit_note_id) else 0 end"
    ) }} as tax_amount
from rounded
