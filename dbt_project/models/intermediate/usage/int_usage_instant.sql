{{ config(tags=['usage']) }}
{# The instant current usage is computed at (docs/current-usage.md): the var usage_as_of when the
    refresh names one (`meterhouse usage --as-of`), else the latest event loaded, else now. One row. -#}
{%- set as_of = var('usage_as_of', '') -%}
select
    coalesce(
        {% if as_of %}cast('{{ as_of }}' as timestamp){% else %}cast(null as timestamp){% endif %},
        (select max(event_at) from {{ ref('stg_landing__events') }}),
        {{ utc_now() }}
    ) as as_of_at,
    {{ utc_now() }} as computed_at
