-- The conditions of charge_filters.csv read as the dbt model int_charge_filter_conditions reads
-- them: both use the macros of dbt_project/macros/charge_filters.sql (the placeholders in braces
-- below are their bodies, filled in by catalog_work_tables.py).
--
-- filter_conditions: one row per value of each `;`-separated part of `conditions`, split at the
-- part's first `=`, with the part's position and value count; a part without `=` gives one row
-- with a NULL key and value.
create or replace temp table filter_conditions as
select
    parsed.line_number,
    filters.charge_code,
    coalesce(filters.valid_from, '') as valid_from,
    parsed.part_index,
    parsed.filter_key,
    parsed.value_count,
    parsed.filter_value
from ({split_filter_conditions}) as parsed
inner join raw.catalog_charge_filters as filters on filters.line_number = parsed.line_number;

-- The values metric_filters.csv declares, as written (the rules judge them apart).
create or replace temp table declared_filter_values as
select metric_code, key as filter_key, unnest(string_split("values", '|')) as filter_value
from raw.catalog_metric_filters
where "values" is not null;

-- filter_values: the well-formed filters' values with `*` expanded to the values the metric of
-- the filter's charge version (filter_charges) declares.
create or replace temp table filter_values as
select
    expanded.line_number,
    filters.charge_code,
    coalesce(filters.valid_from, '') as valid_from,
    expanded.filter_key,
    expanded.filter_value
from ({expand_filter_wildcards}) as expanded
inner join raw.catalog_charge_filters as filters on filters.line_number = expanded.line_number
