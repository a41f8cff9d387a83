with

source as (
    select * from {{ source('landing', 'catalog_billable_metrics') }}
),

typed as (
    select
        metric_code,
        name as metric_name,
        aggregation,
        field_name,
        rounding_function,
        coalesce(cast(rounding_precision as integer), 0) as rounding_precision,
        coalesce(lower(recurring) = 'true', false) as is_recurring,
        coalesce(cast(valid_from as date), cast('1900-01-01' as date)) as valid_from
    from source
)

select
    *,
    coalesce(
        lead(valid_from) over (partition by metric_code order by valid_from),
        cast('9999-12-31' as date)
    ) as valid_to
from typed
