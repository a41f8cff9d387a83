with

source as (
    select * from {{ source('landing', 'credit_notes') }}
),

renamed as (
    select
        -- ids
        {{ hash_key([
            'invoice_id', 'invoice_number', 'invoice_line_id', 'cast(created_at as varchar)',
        ]) }} as landing_credit_note_id,
        invoice_id,
        invoice_number,
        invoice_line_id,
        -- strings
        reason as description,
        source_file,
        -- numerics
        amount,
        line_number,
        -- timestamps
        created_at,
        loaded_at
    from source
)

select * from renamed
