{#- The exact arithmetic macros (dbt_project/macros/money.sql) on their edges: products and
    quotients beyond the 20 integer digits the engine keeps, up to the 29 of decimal(38, 9),
    rounding half away from zero at the 9th decimal, signs, and a zero denominator. Expected
    values computed with Python's decimal module at 80 digits. A failing row is an operation
    that gives another number than the exact one. It reads no table; it is attached to the first
    model that prices with these macros so that a failure stops the build before any amount. -#}
-- depends_on: {{ ref('int_charges_priced') }}
with

cases as (
    select
        edges.operation,
        cast(edges.left_text as decimal(38, 9)) as left_value,
        cast(edges.right_text as decimal(38, 9)) as right_value,
        cast(edges.expected_text as decimal(38, 9)) as expected
    from (
        values
        ('multiply', '1234567890123456789012345680', '0.01', '12345678901234567890123456.800000000'),
        ('multiply', '99999999999999999999999999999.999999999', '1', '99999999999999999999999999999.999999999'),
        ('multiply', '0.000000001', '0.5', '0.000000001'),
        ('multiply', '-0.000000001', '0.5', '-0.000000001'),
        ('multiply', '-3.333333333', '3.000000001', '-10.000000002'),
        ('multiply', '12345678901234567890.123456789', '1234567.891', '15241578764060357776406035.777625362'),
        ('multiply', '176366841446208112716049383', '2.5', '440917103615520281790123457.500000000'),
        ('multiply', '-0.999999999', '-0.999999999', '0.999999998'),
        ('multiply', '0', '99999999999999999999999999999', '0.000000000'),
        ('divide', '1', '3', '0.333333333'),
        ('divide', '2', '3', '0.666666667'),
        ('divide', '-2', '3', '-0.666666667'),
        ('divide', '99999999999999999999999999999.999999999', '1', '99999999999999999999999999999.999999999'),
        ('divide', '1234567890123456789012345680', '7', '176366841446208112716049382.857142857'),
        ('divide', '10000000000000000000000000000', '30000000000000000000000000000', '0.333333333'),
        ('divide', '12345678901234567890123456.8', '1234567890123456789012345680', '0.010000000'),
        ('divide', '1', '2000000000', '0.000000001'),
        ('divide', '-1', '2000000000', '-0.000000001'),
        ('divide', '1', '2000000001', '0.000000000'),
        ('divide', '99999999999999999999999999999', '20000000000000000000000000000', '5.000000000'),
        ('divide', '-99999999999999999999999999999', '-20000000000000000000000000000', '5.000000000'),
        ('divide', '1', '-3', '-0.333333333'),
        ('divide', '5', '0', null)
    ) as edges (operation, left_text, right_text, expected_text)
),

computed as (
    select
        *,
        case operation
            when 'multiply' then {{ multiply_exact('left_value', 'right_value') }}
            else {{ divide_exact('left_value', 'right_value') }}
        end as computed
    from cases
)

select operation, left_value, right_value, expected, computed
from computed
where computed is distinct from expected
