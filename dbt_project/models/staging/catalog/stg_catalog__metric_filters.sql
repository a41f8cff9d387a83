{#- The filter keys a metric declares, one row per allowed value (docs/rules.md §1.11). -#}
with

source as (
    select * from {{ source('landing', 'catalog_metric_filters') }}
)

select
    source.metric_code,
    source.key as filter_key,
    trim(allowed.filter_value) as filter_value
from source
cross join {{ split_to_rows('source."values"', "'|'") }} as allowed (filter_value)
where trim(allowed.filter_value) <> ''
