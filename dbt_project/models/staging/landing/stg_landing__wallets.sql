with

source as (
    select * from {{ source('landing', 'wallets') }}
),

renamed as (
    select
        -- ids
        wallet_code,
        external_customer_id,
        -- strings
        currency,
        {# `|`-joined, sorted; NULL = every line type / every metric (docs/inputs.md) #}
        allowed_line_types,
        metric_codes,
        source_file,
        -- numerics
        rate_amount,
        coalesce(priority, 50) as priority,
        line_number,
        -- timestamps
        created_at,
        expires_at,
        loaded_at
    from source
)

select * from renamed
