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
    -- Lago's default prefix is the first three letters of the name (docs/rules.md §17).
    coalesce(invoice_prefix, upper(substr(replace(name, ' ', ''), 1, 3))) as invoice_prefix,
    coalesce(document_numbering, 'per_customer') as document_numbering,
    -- Days between an invoice's issuing date and its due date; empty = due on issue.
    coalesce(cast(net_payment_term as integer), 0) as net_payment_term,
    -- The language of the documents of customers who have none of their own (docs/invoices.md).
    coalesce(replace(document_locale, '-', '_'), 'en') as document_locale,
    invoice_footer,
    payment_details
from source
