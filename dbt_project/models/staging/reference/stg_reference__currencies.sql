with

source as (
    select * from {{ ref('currencies') }}
)

select
    currency,
    name as currency_name,
    cast(exponent as integer) as exponent
from source
