with

source as (
    select * from {{ source('landing', 'events') }}
),

renamed as (
    select
        -- ids
        external_subscription_id,
        transaction_id,
        -- strings
        code as metric_code,
        properties,
        coalesce(operation_type, 'add') as operation_type,
        source_file,
        -- numerics
        precise_total_amount,
        line_number,
        -- timestamps
        event_timestamp as event_at,
        loaded_at
    from source
)

select * from renamed
