{#- Usage alerts (docs/rules.md §21). -#}

{#- An amount in the currency's minor unit (Lago's `*_cents`): amount * 10^exponent, exact; NULL
    (no value, the alert is skipped) beyond the 29 integer digits of decimal(38, 9). -#}
{% macro to_minor_units(amount, exponent) -%}
    case when abs({{ amount }}) < cast('10000000000000000000000000' as decimal(38, 4)) then
        cast(cast({{ amount }} as decimal(38, 4)) * case {{ exponent }} when 0 then 1 when 1 then 10
            when 2 then 100 when 3 then 1000 when 4 then 10000 end as decimal(38, 9))
    end
{%- endmacro %}

{#- floor(numerator / denominator) as a whole number, exact for decimal(38, 9) columns with a
    positive denominator: the exact quotient rounded at its 9th decimal, floored, then moved by
    one when that rounding crossed a whole number (checked by multiplying back). -#}
{% macro floor_quotient(numerator, denominator, approximate) -%}
    cast(case
        when {{ multiply_exact(approximate, denominator) }} > {{ numerator }} then {{ approximate }} - 1
        when {{ multiply_exact(approximate ~ ' + 1', denominator) }} <= {{ numerator }} then {{ approximate }} + 1
        else {{ approximate }}
    end as bigint)
{%- endmacro %}

{#- The integers first .. last, one row each, as a select-list expression (nothing when
    first > last; callers filter those rows out first, since Spark's sequence counts down). -#}
{% macro integer_steps(first, last) -%}
    {{ return(adapter.dispatch('integer_steps', 'meterhouse')(first, last)) }}
{%- endmacro %}
{% macro default__integer_steps(first, last) -%}
    explode(sequence(cast({{ first }} as bigint), cast({{ last }} as bigint)))
{%- endmacro %}
{% macro duckdb__integer_steps(first, last) -%}
    unnest(generate_series(cast({{ first }} as bigint), cast({{ last }} as bigint)))
{%- endmacro %}

{#- A decimal as short text: no trailing zeros, no trailing point (3000.000000000 -> 3000). -#}
{% macro decimal_text(expression) -%}
    case when cast({{ expression }} as varchar) like '%.%'
        then trim(trailing '.' from trim(trailing '0' from cast({{ expression }} as varchar)))
        else cast({{ expression }} as varchar) end
{%- endmacro %}

{#- Text values joined by `separator` in the order of `order_by` (a number, say). -#}
{% macro string_agg_ordered(column, order_by, separator) -%}
    {{ return(adapter.dispatch('string_agg_ordered', 'meterhouse')(column, order_by, separator)) }}
{%- endmacro %}
{% macro default__string_agg_ordered(column, order_by, separator) -%}
    concat_ws({{ separator }}, transform(array_sort(collect_list(struct({{ order_by }} as k, {{ column }} as v))), x -> x.v))
{%- endmacro %}
{% macro duckdb__string_agg_ordered(column, order_by, separator) -%}
    string_agg({{ column }}, {{ separator }} order by {{ order_by }})
{%- endmacro %}

{#- The last evaluation's `value` per `key` in an append-only evaluation log (the model being
    built, `this`): what the next evaluation compares with. Empty on the log's first build;
    `empty_value` types the column then. -#}
{% macro last_evaluations(key, value, empty_value) -%}
{%- if is_incremental() %}
    select {{ key }}, {{ value }}
    from (
        select
            {{ key }},
            {{ value }},
            row_number() over (partition by {{ key }} order by evaluated_at desc, evaluation_id) as recency
        from {{ this }}
    ) as ranked
    where recency = 1
{%- else %}
    select cast(null as varchar) as {{ key }}, {{ empty_value }} as {{ value }}
    where 1 = 0
{%- endif %}
{%- endmacro %}
