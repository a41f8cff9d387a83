with

source as (
    select * from {{ source('landing', 'catalog_coupons') }}
)

select
    -- ids
    coupon_code,
    -- strings
    coupon_type,
    upper(currency) as currency,
    frequency,
    nullif(trim(plan_codes), '') as plan_codes,
    nullif(trim(metric_codes), '') as metric_codes,
    -- numerics
    {{ as_decimal('amount') }} as amount,
    {{ as_decimal('percentage_rate') }} as percentage_rate,
    cast(cast(frequency_duration as decimal(38, 9)) as integer) as frequency_duration,
    -- timestamps
    cast(expires_at as timestamp) as expires_at
from source
