{#-
    Coupons (docs/rules.md §13), as each invoice line's share of each coupon that reduced it: one row
    per targeted line of every coupon applied to an invoice of the close window.

    A customer's live coupons are applied in a fixed order (`coupon_rank`: metric-limited, then
    plan-limited, then the rest, each by applied_at), so the coupon of rank p on an invoice only
    depends on ranks below p on that invoice and on its own use on earlier invoices. One block of
    CTEs per rank (unrolled to `var('max_live_coupons_per_customer')`) computes, for every invoice
    of the customer at once:
      - the base: the subtotal left after lower ranks, or the targeted lines' remaining amount;
      - whether the coupon is reached (§13 loop: fees above 0, subtotal still above 0, issued on
        or after applied_at, the invoice's currency for a fixed amount, a targeted line);
      - its amount from its state before the invoice, as a running window over the customer's
        invoices: uses so far (once, recurring) and, for a fixed `once` coupon, min(remaining,
        cumulative bases), which is what applying min(remaining, base) invoice by invoice gives;
      - the spread: each targeted line's remaining amount shrinks by its share
        credit × remaining / base (decimal, not rounded, §18.8).
    Coupons used in earlier closes carry their uses and amounts from this model's earlier rows.
-#}
{%- set max_rank = var('max_live_coupons_per_customer') -%}
with

invoices as (
    select * from {{ ref('int_invoice_coupons_applied__invoices') }}
),

{% if is_incremental() %}
earlier_uses as (
    select applied_coupon_id, count(*) as uses_count, sum(credit_amount) as used_amount
    from (
        select distinct applied_coupon_id, invoice_id, credit_amount
        from {{ this }}
        where billing_month < {{ billing_period_start() }}
    ) as applied_invoices
    group by applied_coupon_id
),
{% else %}
earlier_uses as (
    select cast(null as varchar) as applied_coupon_id, 0 as uses_count, {{ as_money('0') }} as used_amount
    where false
),
{% endif %}

{# Coupons not used up by earlier closes (§13 termination), ranked per customer. -#}
live_coupons as (
    select
        coupons.*,
        coalesce(earlier_uses.uses_count, 0) as uses_before_count,
        coalesce(earlier_uses.used_amount, 0) as used_before_amount,
        row_number() over (
            partition by coupons.external_customer_id
            order by coupons.limitation_rank, coupons.applied_at, coupons.applied_coupon_id
        ) as coupon_rank
    from {{ ref('int_applied_coupons_validated') }} as coupons
    left join earlier_uses on coupons.applied_coupon_id = earlier_uses.applied_coupon_id
    where coupons.rejection_reason is null
        and coupons.applied_on < {{ billing_period_end() }}
        and {{ coupon_is_live(
            'coupons', 'coalesce(earlier_uses.uses_count, 0)', 'coalesce(earlier_uses.used_amount, 0)'
        ) }}
),

lines_0 as (
    select * from {{ ref('int_invoice_coupons_applied__lines') }}
),

invoices_0 as (
    select * from invoices
),

{% for rank in range(1, max_rank + 1) %}
{%- set before = rank - 1 %}
coupon_{{ rank }} as (
    select * from live_coupons
    where coupon_rank = {{ rank }}
),

targets_{{ rank }} as (
    select lines_{{ before }}.invoice_line_id, lines_{{ before }}.invoice_id, lines_{{ before }}.remaining_amount
    from lines_{{ before }}
    inner join coupon_{{ rank }} on lines_{{ before }}.external_customer_id = coupon_{{ rank }}.external_customer_id
    where case coupon_{{ rank }}.limitation_rank
            when 1
                then lines_{{ before }}.line_type in ('charge', 'spending_minimum')
                    and '|' || coupon_{{ rank }}.metric_codes || '|' like '%|' || lines_{{ before }}.metric_code || '|%'
            -- A plan's spend cap line (docs/rules.md §12b) lowers its charges.
            when 2
                then lines_{{ before }}.line_type in ('subscription', 'charge', 'spend_cap')
                    and '|' || coupon_{{ rank }}.plan_codes || '|' like '%|' || lines_{{ before }}.plan_code || '|%'
            else true
        end
),

bases_{{ rank }} as (
    select invoice_id, count(*) as targeted_lines_count, {{ as_decimal('sum(remaining_amount)') }} as targeted_amount
    from targets_{{ rank }}
    group by invoice_id
),

steps_{{ rank }} as (
    select
        invoices_{{ before }}.invoice_id,
        invoices_{{ before }}.issuing_date,
        invoices_{{ before }}.currency_exponent,
        coupon_{{ rank }}.applied_coupon_id,
        coupon_{{ rank }}.coupon_code,
        coupon_{{ rank }}.coupon_type,
        coupon_{{ rank }}.frequency,
        coupon_{{ rank }}.frequency_duration,
        coupon_{{ rank }}.amount,
        coupon_{{ rank }}.percentage_rate,
        coupon_{{ rank }}.uses_before_count,
        coupon_{{ rank }}.used_before_amount,
        -- Unrestricted coupons take the invoice's subtotal, limited ones their lines' (§13 base).
        case when coupon_{{ rank }}.limitation_rank = 3 then invoices_{{ before }}.subtotal_amount
            else coalesce(bases_{{ rank }}.targeted_amount, 0)
        end as base_amount,
        invoices_{{ before }}.fees_amount > 0
        and invoices_{{ before }}.subtotal_amount > 0
        and invoices_{{ before }}.issuing_date >= coupon_{{ rank }}.applied_on
        and (
            coupon_{{ rank }}.coupon_type = 'percentage' or coupon_{{ rank }}.currency = invoices_{{ before }}.currency
        )
        and coalesce(bases_{{ rank }}.targeted_amount, 0) > 0
            as is_reached
    from invoices_{{ before }}
    inner join coupon_{{ rank }} on invoices_{{ before }}.external_customer_id = coupon_{{ rank }}.external_customer_id
    left join bases_{{ rank }} on invoices_{{ before }}.invoice_id = bases_{{ rank }}.invoice_id
),

states_{{ rank }} as (
    select
        *,
        uses_before_count + sum(case when is_reached then 1 else 0 end) over coupon_invoices as use_number,
        sum(case when is_reached then {{ round_to_exponent('base_amount', 'currency_exponent') }} else 0 end)
            over coupon_invoices as cumulative_base_amount,
        {{ round_to_exponent('base_amount', 'currency_exponent') }} as rounded_base_amount
    from steps_{{ rank }}
    window coupon_invoices as (
        partition by applied_coupon_id order by issuing_date, invoice_id
        rows between unbounded preceding and current row
    )
),

credits_{{ rank }} as (
    select
        invoice_id,
        applied_coupon_id,
        coupon_code,
        base_amount,
        {{ as_money(
            "case"
            ~ " when not is_reached then 0"
            ~ " when frequency = 'recurring' and use_number > frequency_duration then 0"
            ~ " when coupon_type = 'percentage' and frequency = 'once' and use_number > 1 then 0"
            ~ " when coupon_type = 'percentage' then "
            ~ round_to_exponent('percentage_credit_amount', 'currency_exponent')
            ~ " when frequency = 'once' then"
            ~ " least(amount - used_before_amount, cumulative_base_amount)"
            ~ " - least(amount - used_before_amount, cumulative_base_amount - rounded_base_amount)"
            ~ " else " ~ round_to_exponent('least(amount, base_amount)', 'currency_exponent')
            ~ " end"
        ) }} as credit_amount,
        is_reached
        and not (frequency = 'recurring' and use_number > frequency_duration)
        and not (coupon_type = 'percentage' and frequency = 'once' and use_number > 1)
        -- A fixed `once` coupon used up on an earlier invoice has ended.
        and not (
            coupon_type = 'fixed_amount' and frequency = 'once'
            and cumulative_base_amount - rounded_base_amount >= amount - used_before_amount
        )
            as is_applied
    from (
        {# The percentage credit before rounding as a column, where the case above reads it
            (nested exact macros get column operands, macros/money.sql). -#}
        select
            *,
            case
                when not is_reached then null
                when frequency = 'recurring' and use_number > frequency_duration then null
                when coupon_type = 'percentage' and frequency = 'once' and use_number > 1 then null
                when
                    coupon_type = 'percentage'
                    then least({{ percent_of('base_amount', 'percentage_rate') }}, base_amount)
            end as percentage_credit_amount
        from states_{{ rank }}
    ) as states
),

shares_{{ rank }} as (
    select
        invoice_line_id,
        invoice_id,
        applied_coupon_id,
        coupon_code,
        {{ rank }} as coupon_rank,
        credit_amount,
        {{ divide_exact('credit_product', 'base_amount') }} as precise_coupon_amount
    from (
        select
            targets_{{ rank }}.invoice_line_id,
            targets_{{ rank }}.invoice_id,
            credits_{{ rank }}.applied_coupon_id,
            credits_{{ rank }}.coupon_code,
            credits_{{ rank }}.credit_amount,
            credits_{{ rank }}.base_amount,
            {{ multiply_exact('credits_' ~ rank ~ '.credit_amount', 'targets_' ~ rank ~ '.remaining_amount') }}
                as credit_product
        from targets_{{ rank }}
        inner join credits_{{ rank }} on targets_{{ rank }}.invoice_id = credits_{{ rank }}.invoice_id
        where credits_{{ rank }}.is_applied
    ) as share_products
),

lines_{{ rank }} as (
    select
        lines_{{ before }}.invoice_line_id,
        lines_{{ before }}.invoice_id,
        lines_{{ before }}.external_customer_id,
        lines_{{ before }}.line_type,
        lines_{{ before }}.plan_code,
        lines_{{ before }}.metric_code,
        {{ as_decimal(
            'lines_' ~ before ~ '.remaining_amount - coalesce(shares_' ~ rank ~ '.precise_coupon_amount, 0)'
        ) }}
            as remaining_amount
    from lines_{{ before }}
    left join shares_{{ rank }} on lines_{{ before }}.invoice_line_id = shares_{{ rank }}.invoice_line_id
),

invoices_{{ rank }} as (
    select
        invoices_{{ before }}.invoice_id,
        invoices_{{ before }}.external_customer_id,
        invoices_{{ before }}.currency,
        invoices_{{ before }}.currency_exponent,
        invoices_{{ before }}.issuing_date,
        invoices_{{ before }}.fees_amount,
        {{ as_decimal(
            'invoices_' ~ before ~ '.subtotal_amount - case when credits_' ~ rank ~ '.is_applied then credits_'
            ~ rank ~ '.credit_amount else 0 end'
        ) }} as subtotal_amount
    from invoices_{{ before }}
    left join credits_{{ rank }} on invoices_{{ before }}.invoice_id = credits_{{ rank }}.invoice_id
),

{% endfor %}

shares as (
    {% for rank in range(1, max_rank + 1) %}
    select * from shares_{{ rank }}
    {% if not loop.last %}union all{% endif %}
    {% endfor %}
)

select
    {{ hash_key(['shares.invoice_line_id', 'shares.applied_coupon_id']) }} as invoice_line_coupon_id,
    shares.invoice_line_id,
    shares.invoice_id,
    invoices.external_customer_id,
    invoices.currency,
    invoices.billing_month,
    shares.applied_coupon_id,
    shares.coupon_code,
    shares.coupon_rank,
    shares.credit_amount,
    {{ as_decimal('shares.precise_coupon_amount') }} as precise_coupon_amount
from shares
inner join invoices on shares.invoice_id = invoices.invoice_id
