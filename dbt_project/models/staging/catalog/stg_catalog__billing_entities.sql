with

source as (
    select * from {{ source('landing', 'catalog_billing_entity') }}
)

select
    name as entity_name,
    legal_name,
    address_line1,
    address_line2,
    city,
    zipcode,
    country,
    email,
    tax_identification_number,
    coalesce(timezone, 'UTC') as timezone,
    -- Lago's default prefix is the first three letters of the name (rule book §17).
    coalesce(invoice_prefix, upper(substr(replace(name, ' ', ''), 1, 3))) as invoice_prefix,
    coalesce(document_numbering, 'per_customer') as document_numbering
from source
