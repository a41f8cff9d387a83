with

source as (
    select * from {{ source('landing', 'applied_coupons') }}
),

renamed as (
    select
        -- ids
        {{ hash_key(['external_customer_id', 'coupon_code', 'cast(applied_at as varchar)']) }}
            as applied_coupon_id,
        external_customer_id,
        -- strings
        coupon_code,
        source_file,
        -- numerics
        amount_override,
        percentage_rate_override,
        line_number,
        -- timestamps
        applied_at,
        loaded_at
    from source
)

select * from renamed
