{#-
    The conditions of each charge filter, one row per (filter, key, allowed value), with `*`
    expanded to every value the metric declares for that key (Lago's __ALL_FILTER_VALUES__,
    docs/rules.md §1.11). An event matches a filter when, for each of its keys, the event's property
    is one of the allowed values.
-#}
with

filters as (
    select charge_code, filter_code, conditions, valid_from, valid_to
    from {{ ref('stg_catalog__charge_filters') }}
),

charge_metrics as (
    select distinct charge_code, metric_code from {{ ref('stg_catalog__charges') }}
),

metric_filters as (
    select metric_code, filter_key, filter_value from {{ ref('stg_catalog__metric_filters') }}
),

conditions as (
    select
        filters.charge_code,
        filters.filter_code,
        filters.valid_from,
        filters.valid_to,
        trim(split_part(condition.item, '=', 1)) as filter_key,
        trim(substring(condition.item, strpos(condition.item, '=') + 1)) as allowed_values
    from filters
    cross join {{ split_to_rows('filters.conditions', "';'") }} as condition (item)
    where trim(condition.item) <> ''
),

listed_values as (
    select
        conditions.charge_code,
        conditions.filter_code,
        conditions.valid_from,
        conditions.valid_to,
        conditions.filter_key,
        trim(allowed.filter_value) as filter_value
    from conditions
    cross join {{ split_to_rows('conditions.allowed_values', "'|'") }} as allowed (filter_value)
    where conditions.allowed_values <> '*'
),

all_values as (
    select
        conditions.charge_code,
        conditions.filter_code,
        conditions.valid_from,
        conditions.valid_to,
        conditions.filter_key,
        metric_filters.filter_value
    from conditions
    inner join charge_metrics on conditions.charge_code = charge_metrics.charge_code
    inner join metric_filters
        on charge_metrics.metric_code = metric_filters.metric_code
        and conditions.filter_key = metric_filters.filter_key
    where conditions.allowed_values = '*'
),

expanded as (
    select * from listed_values
    union
    select * from all_values
)

select
    *,
    count(distinct filter_key) over (partition by charge_code, valid_from, filter_code) as key_count
from expanded
