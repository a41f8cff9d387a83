{#- Calendar billing periods (rule book §8): weeks Monday-Sunday, months, quarters, halves, years. -#}
{% macro calendar_period_start(interval, date_expression) -%}
    case {{ interval }}
        when 'weekly' then {{ trunc_date('week', date_expression) }}
        when 'monthly' then {{ trunc_date('month', date_expression) }}
        when 'quarterly' then {{ trunc_date('quarter', date_expression) }}
        when 'semiannual' then {{ add_months(trunc_date('year', date_expression),
            "case when month(" ~ date_expression ~ ") >= 7 then 6 else 0 end") }}
        when 'yearly' then {{ trunc_date('year', date_expression) }}
    end
{%- endmacro %}

{#- Last day (inclusive) of the calendar period starting at period_start. -#}
{% macro calendar_period_end(interval, period_start) -%}
    case {{ interval }}
        when 'weekly' then {{ add_days(period_start, 6) }}
        else {{ add_days(add_months(period_start,
            "case " ~ interval ~ " when 'monthly' then 1 when 'quarterly' then 3 "
            ~ "when 'semiannual' then 6 when 'yearly' then 12 end"), -1) }}
    end
{%- endmacro %}
