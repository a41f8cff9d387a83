with

source as (
    select * from {{ source('landing', 'subscriptions') }}
),

renamed as (
    select
        -- ids
        external_subscription_id,
        external_customer_id,
        -- strings
        plan_code,
        coalesce(billing_time, 'calendar') as billing_time,
        source_file,
        -- numerics
        line_number,
        -- Meterhouse spend cap (docs/rules.md §12b); NULL = the plan's, if any.
        spend_cap_amount,
        -- timestamps
        coalesce(subscription_at, started_at) as subscription_at,
        started_at,
        terminated_at,
        updated_at,
        loaded_at
    from source
)

select * from renamed
