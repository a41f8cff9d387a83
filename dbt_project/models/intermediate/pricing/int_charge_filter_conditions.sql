{#-
    The conditions of each charge filter, one row per (filter, key, allowed value), with `*`
    expanded to every value the metric declares for that key (Lago's __ALL_FILTER_VALUES__,
    docs/rules.md §1.11). An event matches a filter when, for each of its keys, the event's property
    is one of the allowed values. The catalog check reads `conditions` with the same two macros
    (macros/charge_filters.sql), so what it accepts is what this model prices.
-#}
with

filters as (
    select line_number, charge_code, filter_code, conditions, valid_from, valid_to
    from {{ ref('stg_catalog__charge_filters') }}
),

charge_metrics as (
    select distinct charge_code, metric_code from {{ ref('stg_catalog__charges') }}
),

metric_filters as (
    select metric_code, filter_key, filter_value from {{ ref('stg_catalog__metric_filters') }}
),

filter_metrics as (
    select filters.line_number, charge_metrics.metric_code
    from filters
    inner join charge_metrics on filters.charge_code = charge_metrics.charge_code
),

conditions as (
    {{ split_filter_conditions('filters') }}
),

filter_values as (
    {{ expand_filter_wildcards('conditions', 'filter_metrics', 'metric_filters') }}
),

expanded as (
    select distinct
        filters.charge_code,
        filters.filter_code,
        filters.valid_from,
        filters.valid_to,
        filter_values.filter_key,
        filter_values.filter_value
    from filter_values
    inner join filters on filter_values.line_number = filters.line_number
)

select
    *,
    count(distinct filter_key) over (partition by charge_code, valid_from, filter_code) as key_count
from expanded
