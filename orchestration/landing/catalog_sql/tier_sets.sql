-- The tiers of charge_tiers.csv as numbers, each with its place in its tier set (one charge_code,
-- filter_code and valid_from): the columns the tier bounds rules judge (rules/charge_tiers.sql).
-- They are computed by the dbt macros the model stg_catalog__charge_tiers uses
-- (dbt_project/macros/tier_bounds.sql), so the check and the pricing rank tiers alike.
create or replace temp table tier_sets as
with tiers as (
    select
        line_number,
        charge_code,
        coalesce(filter_code, '') as filter_code,
        coalesce(valid_from, '') as valid_from,
        try_cast(from_value as decimal(38, 9)) as from_value,
        try_cast(to_value as decimal(38, 9)) as to_value
    from raw.catalog_charge_tiers
)

select
    *,
    {{ tier_positions() }}
from tiers
{{ tier_set_window() }}
