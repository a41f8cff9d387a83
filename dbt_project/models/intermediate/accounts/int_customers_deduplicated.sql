{#- The latest row of each customer (docs/inputs.md), with the timezone its periods use. -#}
with

customers as (
    select
        external_customer_id,
        customer_name,
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
        net_payment_term,
        updated_at,
        loaded_at,
        line_number
    from {{ ref('stg_landing__customers') }}
),

billing_entities as (
    select timezone, document_locale, net_payment_term from {{ ref('stg_catalog__billing_entities') }}
),

ranked as (
    select
        customers.*,
        row_number() over (
            partition by customers.external_customer_id
            order by customers.updated_at desc nulls last, customers.loaded_at desc, customers.line_number desc
        ) as recency_rank,
        min(coalesce(customers.updated_at, customers.loaded_at)) over (partition by customers.external_customer_id)
            as first_seen_at
    from customers
)

select
    ranked.external_customer_id,
    ranked.customer_name,
    ranked.legal_name,
    ranked.email,
    ranked.address_line1,
    ranked.address_line2,
    ranked.city,
    ranked.zipcode,
    ranked.state,
    ranked.country,
    ranked.currency,
    ranked.tax_codes,
    ranked.tax_identification_number,
    -- docs/conventions.md: empty timezone = the billing entity's; an empty one there = UTC.
    coalesce(ranked.timezone, billing_entities.timezone, 'UTC') as timezone,
    -- Empty = the billing entity's (whose own empty ones are en and 0 days), docs/invoices.md.
    coalesce(ranked.document_locale, billing_entities.document_locale) as document_locale,
    coalesce(ranked.net_payment_term, billing_entities.net_payment_term) as net_payment_term,
    ranked.first_seen_at,
    ranked.updated_at
from ranked
cross join billing_entities
where ranked.recency_rank = 1
