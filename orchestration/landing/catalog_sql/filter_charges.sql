-- The charge version a filter belongs to: the one in force when the filter starts (the earliest
-- version if the filter starts before all of them). One row per line of charge_filters.csv.
create or replace temp table filter_charges as
with dated as (
    select
        f.line_number,
        c.charge_model,
        c.metric_code,
        c.line_number as charge_line,
        coalesce(try_cast(c.valid_from as date), date '0001-01-01') as charge_from,
        coalesce(try_cast(f.valid_from as date), date '0001-01-01') as filter_from
    from raw.catalog_charge_filters as f
    inner join raw.catalog_charges as c on c.charge_code = f.charge_code
)

select line_number, charge_model, metric_code
from dated
qualify row_number() over (
    partition by line_number
    order by
        charge_from <= filter_from desc,
        case when charge_from <= filter_from then charge_from end desc nulls last,
        charge_from,
        charge_line
) = 1
