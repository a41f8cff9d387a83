{{ config(meta={'dagster': {'ref': {'name': 'fct_invoice_line_tiers'}}}) }}
{# The tier rows an invoice prints under a line add up to that line's unrounded amount exactly,
    and each row is its units times its price plus its flat fee (a package row: its packages
    times the package price). A failing row is a line whose printed breakdown would not add up. -#}
with

tiers as (
    select * from {{ ref('fct_invoice_line_tiers') }}
),

lines as (
    select invoice_line_id, precise_amount from {{ ref('fct_invoice_lines') }}
),

sums as (
    select invoice_line_id, sum(precise_amount) as tiers_amount
    from tiers
    group by invoice_line_id
)

select sums.invoice_line_id, 'sum' as failure, sums.tiers_amount as amount, lines.precise_amount as expected
from sums
left join lines on sums.invoice_line_id = lines.invoice_line_id
where lines.precise_amount is null or sums.tiers_amount <> lines.precise_amount
union all
select
    invoice_line_id,
    'row' as failure,
    precise_amount as amount,
    case when step_kind = 'packages' then {{ multiply_exact('packages', 'unit_amount') }}
        else {{ multiply_exact('units', 'unit_amount') }} + flat_amount
    end as expected
from tiers
where precise_amount <> case when step_kind = 'packages' then {{ multiply_exact('packages', 'unit_amount') }}
        else {{ multiply_exact('units', 'unit_amount') }} + flat_amount
    end
