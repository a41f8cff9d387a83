{#- One row per customer: the latest landing row, its effective timezone and invoice number. -#}
with

customers as (
    select * from {{ ref('int_customers_deduplicated') }}
),

customer_numbers as (
    select external_customer_id, customer_sequential_id from {{ ref('finalized_customer_numbers') }}
)

select
    customers.external_customer_id,
    customers.customer_name,
    customers.legal_name,
    customers.email,
    customers.address_line1,
    customers.address_line2,
    customers.city,
    customers.zipcode,
    customers.state,
    customers.country,
    customers.currency,
    customers.timezone,
    customers.tax_codes,
    customers.tax_identification_number,
    customers.document_locale,
    customers.net_payment_term,
    customer_numbers.customer_sequential_id,
    customers.first_seen_at,
    customers.updated_at
from customers
left join customer_numbers on customers.external_customer_id = customer_numbers.external_customer_id
