-- The rules of charge_tiers.csv (docs/inputs.md, docs/rules.md §1.3). The bounds rules read the
-- work table tier_sets (catalog_sql/tier_sets.sql) and are the dbt macros of
-- dbt_project/macros/tier_bounds.sql, which the dbt test tiers_are_contiguous applies too.

-- rule: charge_code must name a graduated, volume or graduated_percentage charge
select line_number
from raw.catalog_charge_tiers
where charge_code not in (
    select charge_code
    from raw.catalog_charges
    where charge_model in ('graduated', 'volume', 'graduated_percentage')
)

-- rule: {column} must be a non-negative decimal
-- columns: from_value, to_value, per_unit_amount, flat_amount, rate
select line_number
from raw.catalog_charge_tiers
where {column} is not null
    and (
        not ({column} is null or try_cast({column} as decimal(38, 9)) is not null)
        or try_cast({column} as decimal(38, 9)) < 0
    )

-- rule: {column} must be a date
-- columns: valid_from
select line_number
from raw.catalog_charge_tiers
where not ({column} is null or try_cast({column} as date) is not null)

-- rule: the first tier of a charge must start at 0 (or 1, which Lago counts the same way)
select line_number
from tier_sets
where {{ tier_starts_elsewhere() }}

-- rule: to_value must be above from_value
select line_number
from tier_sets
where {{ tier_ends_before_its_start() }}

-- rule: only the last tier may be unbounded (empty to_value)
select line_number
from tier_sets
where {{ tier_unbounded_before_last() }}

-- rule: the last tier must be unbounded (empty to_value)
select line_number
from tier_sets
where {{ tier_bounded_last() }}

-- rule: tiers must be contiguous: each from_value equals the previous to_value or the previous
--   to_value + 1 (as Lago's validator); anything else is a gap or an overlap
select line_number
from tier_sets
where {{ tier_leaves_gap_or_overlap() }}

-- rule: filter_code must name a filter of that charge in charge_filters.csv
select t.line_number
from raw.catalog_charge_tiers as t
where t.filter_code is not null
    and not exists (
        select 1
        from raw.catalog_charge_filters as f
        where f.charge_code = t.charge_code and f.filter_code = t.filter_code
    )

-- rule: tiers of graduated_percentage charges need a rate
select line_number
from raw.catalog_charge_tiers
where rate is null
    and charge_code in (
        select charge_code from raw.catalog_charges where charge_model = 'graduated_percentage'
    )
