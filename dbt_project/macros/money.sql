{#- Rule: nested exact macros get column operands, computed in an earlier step (docs/performance.md). -#}
{#- Exact numbers (docs/contributing.md, "Money"): quantities and unrounded money are decimal(38, 9); rounded money is
    decimal(38, 4), wide enough for every ISO 4217 minor unit (JPY 0, USD 2, KWD 3, CLF 4). -#}
{% macro as_decimal(expression) -%}
    cast({{ expression }} as decimal(38, 9))
{%- endmacro %}

{% macro as_money(expression) -%}
    cast({{ expression }} as decimal(38, 4))
{%- endmacro %}

{#- Half away from zero to the currency's exponent (docs/rules.md §4, §10). DuckDB needs a constant
    precision, hence one branch per exponent. -#}
{% macro round_to_exponent(expression, exponent) -%}
    cast(case {{ exponent }}
        {%- for digits in range(0, 5) %}
        when {{ digits }} then cast(round(cast({{ expression }} as decimal(38, 9)), {{ digits }}) as decimal(38, 4))
        {%- endfor %}
    end as decimal(38, 4))
{%- endmacro %}

{#- num / den as decimal(38, 9), rounded half away from zero at the 9th decimal, never via a
    float: decimal / decimal is DOUBLE in DuckDB. NULL when den is 0. Exact for every num and den
    in decimal(38, 9) whose quotient fits its 29 integer digits (docs/bad-input.md). -#}
{% macro divide_exact(numerator, denominator) -%}
    {{ return(adapter.dispatch('divide_exact', 'meterhouse')(numerator, denominator)) }}
{%- endmacro %}

{#- Engines that keep the declared scale of a decimal division (PostgreSQL; Spark with
    spark.sql.decimalOperations.allowPrecisionLoss=false). -#}
{% macro default__divide_exact(numerator, denominator) -%}
    cast(cast({{ numerator }} as decimal(38, 9)) / nullif(cast({{ denominator }} as decimal(38, 9)), 0) as decimal(38, 9))
{%- endmacro %}

{#- DuckDB: long division on the scaled integers N = |num| * 10^9 and D = |den| * 10^9 (both at
    most 10^38, a hugeint holds 1.7 * 10^38): the integer part N // D, then the 9 decimals of
    (N % D) / D and the rounding digit. While D < 8 * 10^28 the remainder times 2 * 10^9 fits;
    above, D = 10^9 * Dq + Dr and 10^9 * r = k * D + x with k = r // Dq and
    x = 10^9 * (r % Dq) - k * Dr, where -10^18 < x < D, so the decimals are k (or k - 1 when x is
    negative) with no product beyond D. -#}
{% macro duckdb__divide_exact(numerator, denominator) -%}
    {%- set n = duckdb_scaled_integer(numerator) -%}
    {#- An integer literal denominator (say 100) is scaled here: the same hugeint, written once. -#}
    {%- set d = "cast('" ~ ((denominator | abs) * 1000000000) ~ "' as hugeint)" if denominator is integer
        else duckdb_scaled_integer(denominator) -%}
    {%- set r = "(" ~ n ~ " % nullif(" ~ d ~ ", 0))" -%}
    {%- set d_high = "(" ~ d ~ " // 1000000000)" -%}
    {%- set k = "(" ~ r ~ " // " ~ d_high ~ ")" -%}
    {%- set x = "(1000000000 * (" ~ r ~ " % " ~ d_high ~ ") - " ~ k ~ " * (" ~ d ~ " % 1000000000))" -%}
    {%- set rest = "(" ~ x ~ " + case when " ~ x ~ " < 0 then " ~ d ~ " else 0 end)" -%}
    (
        cast(
            sign(cast({{ numerator }} as decimal(38, 9))) * sign(cast({{ denominator }} as decimal(38, 9)))
            * (
                ({{ n }} // nullif({{ d }}, 0)) * 1000000000
                + case
                    when {{ d }} < cast('80000000000000000000000000000' as hugeint)
                        then ({{ r }} * 2000000000 + {{ d }}) // ({{ d }} * 2)
                    else {{ k }} - case when {{ x }} < 0 then 1 else 0 end
                        + case when {{ rest }} >= {{ d }} - {{ rest }} then 1 else 0 end
                end
            )
            as decimal(38, 0)
        ) * cast(0.000000001 as decimal(10, 9))
    )
{%- endmacro %}

{#- |expression| * 10^9 as a hugeint, from the integer and fractional parts (a decimal(38, 9)
    times 10^9 stays decimal(38, 9) in DuckDB and overflows beyond 20 integer digits). -#}
{% macro duckdb_scaled_integer(expression) -%}
    {%- set value = "abs(cast(" ~ expression ~ " as decimal(38, 9)))" -%}
    (cast(trunc({{ value }}) as hugeint) * 1000000000 + cast(({{ value }} - trunc({{ value }})) * 1000000000 as hugeint))
{%- endmacro %}

{#- a * b as decimal(38, 9), rounded half away from zero at the 9th decimal, for every a and b in
    decimal(38, 9) whose product fits its 29 integer digits: the engines type
    decimal(38, 9) * decimal(38, 9) as decimal(38, 18) (DuckDB, 20 integer digits) or cut the
    scale to 6 (Spark), so a product is never written with a bare `*` on money or units
    (docs/bad-input.md). With a = ai + af and b = bi + bf (integer and fractional parts, of the
    sign of their number): a * b = ai * bi + ai * bf + af * bi + af * bf, where only the last
    term has more than 9 decimals and it is below 1; all four terms have the sign of the product,
    so rounding the last one alone rounds the sum. -#}
{% macro multiply_exact(left, right) -%}
    {{ return(adapter.dispatch('multiply_exact', 'meterhouse')(left, right)) }}
{%- endmacro %}

{% macro default__multiply_exact(left, right) -%}
    {%- set a = "cast(" ~ left ~ " as decimal(38, 9))" -%}
    {%- set b = "cast(" ~ right ~ " as decimal(38, 9))" -%}
    {%- set a_int = "cast(trunc(" ~ a ~ ") as decimal(38, 0))" -%}
    {%- set b_int = "cast(trunc(" ~ b ~ ") as decimal(38, 0))" -%}
    {%- set a_frac = "cast(" ~ a ~ " - " ~ a_int ~ " as decimal(10, 9))" -%}
    {%- set b_frac = "cast(" ~ b ~ " - " ~ b_int ~ " as decimal(10, 9))" -%}
    cast(
        cast({{ a_int }} * {{ b_int }} as decimal(38, 9))
        + cast({{ a_int }} * {{ b_frac }} as decimal(38, 9))
        + cast({{ a_frac }} * {{ b_int }} as decimal(38, 9))
        + cast(round({{ a_frac }} * {{ b_frac }}, 9) as decimal(38, 9))
        as decimal(38, 9)
    )
{%- endmacro %}

{#- amount * rate / 100 as decimal(38, 9), rounded once, half away from zero (taxes, percentage
    coupons). rate / 100 is exact in 9 decimals when the rate has at most 7, then one exact
    multiplication; a rate with 8 or 9 decimals keeps the plain product (exact up to 18 integer
    digits of the amount). -#}
{% macro percent_of(amount, rate) -%}
    case
        when {{ rate }} = round({{ rate }}, 7)
            then {{ multiply_exact(amount, 'cast(' ~ rate ~ ' as decimal(38, 9)) * 0.01') }}
        else {{ as_decimal('(' ~ amount ~ ') * ' ~ rate ~ ' * 0.01') }}
    end
{%- endmacro %}

{#- sum(expression) as decimal(38, 9), an aggregate: a sum beyond the 29 integer digits of
    decimal(38, 9) (say many events of 28 digits each) stops the build with an error that reads
    "<what> exceeds the 29 integer digits Meterhouse can bill exactly", `what` being a SQL text
    expression over the group (the metric, subscription and charge), instead of the engine's bare
    overflow (docs/bad-input.md). -#}
{% macro sum_within_limit(expression, what) -%}
    {{ return(adapter.dispatch('sum_within_limit', 'meterhouse')(expression, what)) }}
{%- endmacro %}

{#- Engines whose decimal sum fails on overflow by itself (the message is the engine's). -#}
{% macro default__sum_within_limit(expression, what) -%}
    cast(sum(cast({{ expression }} as decimal(38, 9))) as decimal(38, 9))
{%- endmacro %}

{#- DuckDB sums decimal(38, 9) in a hugeint of 10^-9 units and overflows past 1.7 * 10^29: the
    integer parts are summed apart (a hugeint of units holds 1.7 * 10^38), then the fractional
    parts, each below 1; the total is checked before it is cast. -#}
{% macro duckdb__sum_within_limit(expression, what) -%}
    {%- set value = "cast(" ~ expression ~ " as decimal(38, 9))" -%}
    {%- set integer_sum = "sum(cast(trunc(" ~ value ~ ") as hugeint))" -%}
    {%- set fraction_sum = "sum(" ~ value ~ " - trunc(" ~ value ~ "))" -%}
    {%- set scaled = "(" ~ integer_sum ~ " * 1000000000 + cast(" ~ fraction_sum ~ " * 1000000000 as hugeint))" -%}
    case
        when count({{ value }}) = 0 then cast(null as decimal(38, 9))
        when abs({{ integer_sum }}) < cast('100000000000000000000000000000' as hugeint) - count({{ value }})
            then cast({{ integer_sum }} as decimal(38, 9)) + {{ fraction_sum }}
        when abs({{ integer_sum }}) < cast('100000000000000000000000000000' as hugeint) + count({{ value }})
            and abs({{ scaled }}) < cast('100000000000000000000000000000000000000' as hugeint)
            then cast({{ scaled }} as decimal(38, 0)) * cast(0.000000001 as decimal(10, 9))
        else cast(error({{ what }} || ' exceeds the 29 integer digits Meterhouse can bill exactly') as decimal(38, 9))
    end
{%- endmacro %}

{#- Metric rounding (docs/rules.md §2): round / ceil / floor at a precision that may be negative.
    A constant precision (a number) or function (a quoted literal) keeps only the branch that can
    match: the same value, but the expression is not copied into 16 precisions times 3 functions,
    which made the compiled SQL of a nested call megabytes long and its planning take seconds
    (docs/performance.md). -#}
{% macro round_units(expression, function, precision) -%}
    {%- set literal_precision = precision is number -%}
    {%- set literal_function = function in ("'round'", "'floor'", "'ceil'") -%}
    case
        {%- if not literal_function %}
        when {{ function }} is null then {{ expression }}
        {%- endif %}
        {%- for digits in range(-6, 10) if not literal_precision or digits == precision %}
        {%- set step = "cast(1e" ~ (0 - digits) ~ " as decimal(38, 9))" if digits > 0 else "cast(" ~ (10 ** (0 - digits)) ~ " as decimal(38, 9))" %}
        when {{ precision }} = {{ digits }} then cast(case {{ function }}
            {%- if not literal_function or function == "'round'" %}
            when 'round' then cast(round({{ expression }}, {{ digits }}) as decimal(38, 9))
            {%- endif %}
            {%- if not literal_function or function == "'floor'" %}
            when 'floor' then cast(trunc({{ expression }}, {{ digits }}) as decimal(38, 9))
                - case when {{ expression }} < 0 and trunc({{ expression }}, {{ digits }}) <> {{ expression }} then {{ step }} else 0 end
            {%- endif %}
            {%- if not literal_function or function == "'ceil'" %}
            when 'ceil' then cast(trunc({{ expression }}, {{ digits }}) as decimal(38, 9))
                + case when {{ expression }} > 0 and trunc({{ expression }}, {{ digits }}) <> {{ expression }} then {{ step }} else 0 end
            {%- endif %}
        end as decimal(38, 9))
        {%- endfor %}
    end
{%- endmacro %}

{#- quantity * days / period_days as decimal(38, 9), rounded once, half away from zero at the 9th
    decimal, for every quantity in decimal(38, 9) whose result fits (proration, docs/rules.md
    §2.1): the product quantity * days alone may pass the 29 integer digits even though the
    share fits. With quantity = period_days * a + b (a = prorate_whole(quantity, period_days), an
    integer; |b| about period_days at most), quantity * days / period_days = a * days +
    b * days / period_days: the first term is an integer that fits when the share does, the
    second is small; only it is rounded. `days` and `period_days` are integer day counts; pass
    `whole` when a column already holds prorate_whole and `rest` when one holds prorate_rest (the
    SQL text is then much shorter). -#}
{% macro prorate_exact(quantity, days, period_days, whole=none, rest=none) -%}
    {%- set whole = whole or prorate_whole(quantity, period_days) -%}
    {%- set rest = rest or prorate_rest(quantity, period_days, whole) -%}
    {%- set days = "(" ~ days ~ ")" -%}
    {%- set period_days = "(" ~ period_days ~ ")" -%}
    cast(
        {{ multiply_exact(whole, days) }} + {{ divide_exact(rest ~ ' * ' ~ days, period_days) }}
        as decimal(38, 9)
    )
{%- endmacro %}

{#- The integer a of prorate_exact: quantity / period_days truncated (one off when the quotient
    rounds up to an integer at the 9th decimal, which b absorbs). -#}
{% macro prorate_whole(quantity, period_days) -%}
    cast(trunc({{ divide_exact(quantity, period_days) }}) as decimal(38, 9))
{%- endmacro %}

{#- The b of prorate_exact: quantity - period_days * a, `whole` being a (a column, preferably). -#}
{% macro prorate_rest(quantity, period_days, whole) -%}
    (cast({{ quantity }} as decimal(38, 9)) - {{ multiply_exact(whole, "(" ~ period_days ~ ")") }})
{%- endmacro %}
