{#-
    Assign charged events to their buckets (docs/rules.md §1.10, §1.11): CTEs that read `source`
    (one row per scope, charge and event, with columns scope_key, charge_code, transaction_id,
    properties, charges_period_start, charge_pricing_group_keys) and end in a CTE named `name`:
    the same rows with `filter_code` ('' for the default bucket) and `pricing_group` (JSON text of
    the group values, keys in alphabetical order, or NULL without group keys).

    An event counts in every filter it matches unless it also matches one of that filter's
    children; an event that matches no filter goes to the default bucket.

    `source` is read twice and `<name>_filtered` twice: make `source` a recomputed_cte() join, as
    `<name>_filtered` is, so that neither is written out with every event's properties.
-#}
{% macro bucketed_charge_events(source, name, filter_conditions, filter_children, charge_filters, pricing_group_keys) -%}
{{ name }}_filter_matches as (
    select
        {{ source }}.scope_key,
        {{ source }}.charge_code,
        {{ source }}.transaction_id,
        conditions.valid_from as filter_valid_from,
        conditions.filter_code
    from {{ source }}
    inner join {{ filter_conditions }} as conditions
        on {{ source }}.charge_code = conditions.charge_code
        and {{ source }}.charges_period_start >= conditions.valid_from
        and {{ source }}.charges_period_start < conditions.valid_to
        and {{ json_value_text(source ~ '.properties', 'conditions.filter_key') }} = conditions.filter_value
    group by
        {{ source }}.scope_key, {{ source }}.charge_code, {{ source }}.transaction_id,
        conditions.valid_from, conditions.filter_code, conditions.key_count
    having count(distinct conditions.filter_key) = conditions.key_count
),

{{ name }}_filters_kept as (
    select matches.*
    from {{ name }}_filter_matches as matches
    where not exists (
        select 1
        from {{ filter_children }} as children
        inner join {{ name }}_filter_matches as child_matches
            on children.child_filter_code = child_matches.filter_code
        where children.charge_code = matches.charge_code
            and children.valid_from = matches.filter_valid_from
            and children.filter_code = matches.filter_code
            and child_matches.scope_key = matches.scope_key
            and child_matches.charge_code = matches.charge_code
            and child_matches.transaction_id = matches.transaction_id
    )
),

{{ name }}_filtered as {{ recomputed_cte() }} (
    select
        {{ source }}.*,
        coalesce(kept.filter_code, '') as filter_code,
        coalesce(charge_filters.pricing_group_keys, {{ source }}.charge_pricing_group_keys)
            as pricing_group_keys
    from {{ source }}
    left join {{ name }}_filters_kept as kept
        on {{ source }}.scope_key = kept.scope_key
        and {{ source }}.charge_code = kept.charge_code
        and {{ source }}.transaction_id = kept.transaction_id
    left join {{ charge_filters }} as charge_filters
        on kept.charge_code = charge_filters.charge_code
        and kept.filter_valid_from = charge_filters.valid_from
        and kept.filter_code = charge_filters.filter_code
),

{{ name }}_group_values as (
    select
        filtered.scope_key,
        filtered.charge_code,
        filtered.transaction_id,
        filtered.filter_code,
        '{' || {{ string_agg_sorted(
            json_quote('group_keys.group_key') ~ " || ':' || coalesce("
            ~ json_quote("nullif(" ~ json_value_text('filtered.properties', 'group_keys.group_key') ~ ", '')")
            ~ ", 'null')",
            "','"
        ) }} || '}' as pricing_group
    from {{ name }}_filtered as filtered
    inner join {{ pricing_group_keys }} as group_keys
        on filtered.pricing_group_keys = group_keys.pricing_group_keys
    group by filtered.scope_key, filtered.charge_code, filtered.transaction_id, filtered.filter_code
),

{{ name }} as (
    select
        filtered.*,
        group_values.pricing_group
    from {{ name }}_filtered as filtered
    left join {{ name }}_group_values as group_values
        on filtered.scope_key = group_values.scope_key
        and filtered.charge_code = group_values.charge_code
        and filtered.transaction_id = group_values.transaction_id
        and filtered.filter_code = group_values.filter_code
)
{%- endmacro %}
