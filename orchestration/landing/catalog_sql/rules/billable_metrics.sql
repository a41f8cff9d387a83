-- The rules of billable_metrics.csv (docs/inputs.md).

-- rule: aggregation must be count, sum, max, latest, unique_count or weighted_sum
select line_number
from raw.catalog_billable_metrics
where aggregation not in ('count', 'sum', 'max', 'latest', 'unique_count', 'weighted_sum')

-- rule: field_name is required for every aggregation but count
select line_number
from raw.catalog_billable_metrics
where aggregation <> 'count'
    and field_name is null

-- rule: rounding_function must be round, ceil or floor
-- column: rounding_function
select line_number
from raw.catalog_billable_metrics
where rounding_function is not null
    and rounding_function not in ('round', 'ceil', 'floor')

-- rule: rounding_precision must be an integer
-- column: rounding_precision
select line_number
from raw.catalog_billable_metrics
where rounding_precision is not null
    and try_cast(rounding_precision as integer) is null

-- rule: recurring must be true or false
-- column: recurring
select line_number
from raw.catalog_billable_metrics
where not (recurring is null or lower(recurring) in ('true', 'false'))

-- rule: valid_from must be a date
-- column: valid_from
select line_number
from raw.catalog_billable_metrics
where not (valid_from is null or try_cast(valid_from as date) is not null)

-- rule: metric_code is defined twice with the same valid_from
select line_number
from raw.catalog_billable_metrics
qualify count(*) over (partition by metric_code, coalesce(valid_from, '')) > 1

-- rule: recurring is only allowed for sum, unique_count and weighted_sum metrics (count, max and
--   latest metrics cannot be recurring in Lago)
select line_number
from raw.catalog_billable_metrics
where coalesce(lower(recurring) = 'true', false)
    and aggregation in ('count', 'max', 'latest')
