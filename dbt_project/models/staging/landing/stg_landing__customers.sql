with

source as (
    select * from {{ source('landing', 'customers') }}
),

renamed as (
    select
        -- ids
        external_customer_id,
        -- strings
        name as customer_name,
        legal_name,
        email,
        address_line1,
        address_line2,
        city,
        zipcode,
        state,
        country,
        currency,
        timezone,
        tax_codes,
        tax_identification_number,
        document_locale,
        source_file,
        -- numerics
        line_number,
        net_payment_term,
        -- timestamps
        updated_at,
        loaded_at
    from source
)

select * from renamed
