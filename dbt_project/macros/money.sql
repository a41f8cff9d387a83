{#- Exact numbers (STYLE §6): quantities and unrounded money are decimal(38, 9); rounded money is
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
    float: decimal / decimal is DOUBLE in DuckDB. NULL when den is 0. -#}
{% macro divide_exact(numerator, denominator) -%}
    {{ return(adapter.dispatch('divide_exact', 'meterhouse')(numerator, denominator)) }}
{%- endmacro %}

{% macro default__divide_exact(numerator, denominator) -%}
    cast(cast({{ numerator }} as decimal(38, 9)) / nullif(cast({{ denominator }} as decimal(38, 9)), 0) as decimal(38, 9))
{%- endmacro %}

{% macro duckdb__divide_exact(numerator, denominator) -%}
    (
        cast(
            sign(cast({{ numerator }} as decimal(38, 9))) * sign(cast({{ denominator }} as decimal(38, 9)))
            * (
                (
                    cast(abs(cast({{ numerator }} as decimal(38, 9))) * 1000000000 as hugeint)
                    * 2000000000
                    + cast(abs(cast({{ denominator }} as decimal(38, 9))) * 1000000000 as hugeint)
                )
                // nullif(
                    cast(abs(cast({{ denominator }} as decimal(38, 9))) * 1000000000 as hugeint) * 2, 0
                )
            )
            as decimal(38, 0)
        ) * cast(0.000000001 as decimal(10, 9))
    )
{%- endmacro %}

{#- Metric rounding (docs/rules.md §2): round / ceil / floor at a precision that may be negative. -#}
{% macro round_units(expression, function, precision) -%}
    case
        when {{ function }} is null then {{ expression }}
        {%- for digits in range(-6, 10) %}
        {%- set step = "cast(1e" ~ (0 - digits) ~ " as decimal(38, 9))" if digits > 0 else "cast(" ~ (10 ** (0 - digits)) ~ " as decimal(38, 9))" %}
        when {{ precision }} = {{ digits }} then cast(case {{ function }}
            when 'round' then cast(round({{ expression }}, {{ digits }}) as decimal(38, 9))
            when 'floor' then cast(trunc({{ expression }}, {{ digits }}) as decimal(38, 9))
                - case when {{ expression }} < 0 and trunc({{ expression }}, {{ digits }}) <> {{ expression }} then {{ step }} else 0 end
            when 'ceil' then cast(trunc({{ expression }}, {{ digits }}) as decimal(38, 9))
                + case when {{ expression }} > 0 and trunc({{ expression }}, {{ digits }}) <> {{ expression }} then {{ step }} else 0 end
        end as decimal(38, 9))
        {%- endfor %}
    end
{%- endmacro %}
