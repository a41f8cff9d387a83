with

source as (
    select * from {{ source('landing', 'catalog_usage_thresholds') }}
)

select
    plan_code,
    {{ as_decimal('amount') }} as threshold_amount,
    coalesce(lower(recurring) = 'true', false) as is_recurring
from source
