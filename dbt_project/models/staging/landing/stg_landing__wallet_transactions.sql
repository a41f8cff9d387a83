{#- One row per credit movement. A purchase lands twice (unpaid, then re-sent with paid_at), so
    this view collapses the raw rows of a movement: the one exception to "no aggregates in
    staging", done with window functions and a filter on the earliest row. -#}
with

source as (
    select * from {{ source('landing', 'wallet_transactions') }}
),

floored as (
    select
        wallet_code,
        transaction_type,
        {# credits > 0, so truncating is flooring (docs/rules.md §15: floored to 5 dp on input) #}
        {{ as_decimal('trunc(credits, 5)') }} as credits,
        created_at,
        paid_at,
        source_file,
        line_number,
        loaded_at
    from source
),

collapsed as (
    select
        wallet_code,
        transaction_type,
        credits,
        created_at,
        max(paid_at) over (
            partition by wallet_code, transaction_type, created_at, credits
        ) as paid_at,
        source_file,
        line_number,
        loaded_at,
        row_number() over (
            partition by wallet_code, transaction_type, created_at, credits
            order by loaded_at, source_file, line_number
        ) as row_rank
    from floored
),

renamed as (
    select
        -- ids
        {{ hash_key([
            'wallet_code', 'transaction_type', 'cast(created_at as varchar)', 'credits',
        ]) }} as wallet_transaction_id,
        wallet_code,
        -- strings
        transaction_type,
        source_file,
        -- numerics
        credits,
        line_number,
        -- timestamps
        created_at,
        paid_at,
        loaded_at
    from collapsed
    where row_rank = 1
)

select * from renamed
