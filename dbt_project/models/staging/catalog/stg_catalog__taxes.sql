with

source as (
    select * from {{ source('landing', 'catalog_taxes') }}
)

select
    tax_code,
    name as tax_name,
    {{ as_decimal('rate') }} as tax_rate,
    coalesce(lower(applied_by_default) = 'true', false) as is_applied_by_default
from source
