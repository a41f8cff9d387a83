{#- Whether an applied coupon still applies after `uses_count` invoices took `used_amount` of it
    (docs/rules.md §13 termination): forever never ends, recurring ends after its duration, a
    percentage `once` after one use, a fixed `once` when its amount is used up. -#}
{% macro coupon_is_live(coupon, uses_count, used_amount) -%}
    case
        when {{ coupon }}.frequency = 'forever' then true
        when {{ coupon }}.frequency = 'recurring' then {{ uses_count }} < {{ coupon }}.frequency_duration
        when {{ coupon }}.coupon_type = 'percentage' then {{ uses_count }} = 0
        else {{ used_amount }} < {{ coupon }}.amount
    end
{%- endmacro %}
