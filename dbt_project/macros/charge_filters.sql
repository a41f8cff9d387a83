{#-
    How a charge filter's `conditions` read (docs/inputs.md, docs/rules.md §1.11), stated once:
    the model int_charge_filter_conditions and the catalog check
    (orchestration/landing/catalog_work_tables.py, which reads the duckdb__ and plain bodies as
    SQL, so they hold no Jinja but their arguments) both use these macros.

    `conditions` is `;`-separated parts, each `key=value1|value2`, split at the part's first `=`;
    `*` alone stands for every value the charge's metric declares for that key (Lago's
    __ALL_FILTER_VALUES__).
-#}

{#- One row per value of each part of `conditions`, with the part's position (from 1), its key,
    and how many values it lists; a part without `=` gives one row with a NULL key and value. -#}
{% macro split_filter_conditions(filters) -%}
    {{ return(adapter.dispatch('split_filter_conditions', 'meterhouse')(filters)) }}
{%- endmacro %}
{% macro default__split_filter_conditions(filters) -%}
select
    line_number,
    part_index,
    filter_key,
    size(value_list) as value_count,
    filter_value
from (
    select
        line_number,
        part_index,
        case when instr(part, '=') > 0 then substring(part, 1, instr(part, '=') - 1) end as filter_key,
        case
            when instr(part, '=') > 0 then split(substring(part, instr(part, '=') + 1), '[|]')
            else array(cast(null as string))
        end as value_list
    from (
        select filters.line_number, exploded.part_position + 1 as part_index, exploded.part
        from {{ filters }} as filters
        lateral view posexplode(split(filters.conditions, ';')) exploded as part_position, part
        where filters.conditions is not null
    ) as parts
) as split_parts
lateral view explode(value_list) listed as filter_value
{%- endmacro %}
{% macro duckdb__split_filter_conditions(filters) -%}
select
    line_number,
    part_index,
    filter_key,
    len(value_list) as value_count,
    unnest(value_list) as filter_value
from (
    select
        line_number,
        part_index,
        case when strpos(part, '=') > 0 then left(part, strpos(part, '=') - 1) end as filter_key,
        case
            when strpos(part, '=') > 0 then string_split(substr(part, strpos(part, '=') + 1), '|')
            else [cast(null as varchar)]
        end as value_list
    from (
        select
            line_number,
            unnest(string_split(conditions, ';')) as part,
            unnest(range(1, len(string_split(conditions, ';')) + 1)) as part_index
        from {{ filters }}
        where conditions is not null
    ) as parts
) as split_parts
{%- endmacro %}

{#- True for a row of split_filter_conditions that does not read key=value: no `=`, or an empty
    key or value, or one with spaces around it. -#}
{% macro malformed_filter_condition() -%}
(filter_key is null or filter_key = '' or filter_key <> trim(filter_key) or filter_value is null or filter_value = '' or filter_value <> trim(filter_value))
{%- endmacro %}

{#- The values each well-formed filter allows, `*` expanded: one row per line_number, filter_key
    and filter_value. A filter with a malformed part or a key given twice gives no rows. -#}
{% macro expand_filter_wildcards(conditions, filter_metrics, metric_filters) -%}
select
    conditions.line_number,
    conditions.filter_key,
    coalesce(metric_filters.filter_value, conditions.filter_value) as filter_value
from {{ conditions }} as conditions
left join {{ filter_metrics }} as filter_metrics
    on conditions.line_number = filter_metrics.line_number
left join {{ metric_filters }} as metric_filters
    on conditions.filter_value = '*'
    and filter_metrics.metric_code = metric_filters.metric_code
    and conditions.filter_key = metric_filters.filter_key
where conditions.line_number not in (
    select malformed.line_number
    from {{ conditions }} as malformed
    group by malformed.line_number
    having
        max(case when {{ malformed_filter_condition() }} then 1 else 0 end) = 1
        or count(distinct malformed.filter_key) < count(distinct malformed.part_index)
)
{%- endmacro %}
