with

source as (
    select * from {{ source('landing', 'alerts') }}
),

renamed as (
    select
        -- ids
        alert_code,
        external_subscription_id,
        wallet_code,
        metric_code,
        threshold_code,
        -- strings
        alert_type,
        name as alert_name,
        threshold_value_text,
        recurring_text,
        source_file,
        -- numerics
        threshold_value,
        line_number,
        -- booleans
        recurring as is_recurring,
        -- timestamps
        updated_at,
        loaded_at
    from source
)

select * from renamed
