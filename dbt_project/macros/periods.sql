{#-
    Billing periods (docs/rules.md §8) as local calendar dates, anchored on a date.

    Anniversary periods start on the subscription day: every k-th month from the anchor (clamped to
    the month's last day, and always counted from the anchor itself, so Jan 31 gives Feb 28 and then
    Mar 31) or every 7 days from its weekday. Calendar periods are the same arithmetic anchored on
    2001-01-01, a Monday and a January 1st: weeks Monday-Sunday, months, quarters, halves, years.
-#}
{% macro calendar_anchor() -%}
    cast('2001-01-01' as date)
{%- endmacro %}

{% macro period_anchor(billing_time, subscription_on) -%}
    case when {{ billing_time }} = 'anniversary' then {{ subscription_on }} else {{ calendar_anchor() }} end
{%- endmacro %}

{% macro interval_months(interval) -%}
    case {{ interval }} when 'monthly' then 1 when 'quarterly' then 3 when 'semiannual' then 6 when 'yearly' then 12 end
{%- endmacro %}

{#- Whole calendar months from a to b, ignoring the days. -#}
{% macro month_index_between(a, b) -%}
    ((year({{ b }}) - year({{ a }})) * 12 + month({{ b }}) - month({{ a }}))
{%- endmacro %}

{% macro floor_to_multiple(value, step) -%}
    (cast(floor(({{ value }}) / cast({{ step }} as double)) as integer) * ({{ step }}))
{%- endmacro %}

{#- First day of the period of `interval` that holds `day`. -#}
{% macro period_start(interval, anchor, day) -%}
    {%- set months = month_index_between(anchor, day) -%}
    {%- set whole_months = months ~ " - case when " ~ add_months(anchor, months) ~ " > " ~ day ~ " then 1 else 0 end" -%}
    case
        when {{ interval }} = 'weekly'
            then {{ add_days(anchor, floor_to_multiple(days_between(anchor, day), 7)) }}
        else {{ add_months(anchor, floor_to_multiple(whole_months, interval_months(interval))) }}
    end
{%- endmacro %}

{#- Last day (inclusive) of the period of `interval` that starts on `start` (a period_start). -#}
{% macro period_end(interval, anchor, start) -%}
    case
        when {{ interval }} = 'weekly' then {{ add_days(start, 6) }}
        else {{ add_days(add_months(anchor, month_index_between(anchor, start) ~ ' + ' ~ interval_months(interval)), -1) }}
    end
{%- endmacro %}

{#- An instant inside a charges window's end (docs/rules.md §8): windows are half-open, except that a
    window ending at a termination includes that instant, as Lago's `to_datetime` is the
    `terminated_at` it bills up to (`is_end_served`). Events are selected by this rule everywhere
    (rating, pay-in-advance fees, progressive billing, lineage). -#}
{% macro before_window_end(instant, to_at, is_end_served) -%}
    ({{ instant }} <= {{ to_at }} and ({{ instant }} < {{ to_at }} or {{ is_end_served }}))
{%- endmacro %}

{#- A charges window that holds at least one instant. -#}
{% macro window_is_open(from_at, to_at, is_end_served) -%}
    ({{ from_at }} < {{ to_at }} or ({{ from_at }} = {{ to_at }} and {{ is_end_served }}))
{%- endmacro %}
