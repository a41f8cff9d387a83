{#- Sequential customer numbers for per-customer invoice numbers (docs/rules.md §17), assigned once at
    finalization in order of first appearance and never changed (docs/conventions.md). -#}
with

customers as (
    select external_customer_id, first_seen_at
    from {{ ref('int_customers_deduplicated') }}
    where {{ finalize_month() }} is not null
),

{% if is_incremental() %}
numbered as (
    select external_customer_id, customer_sequential_id from {{ this }}
),
{% else %}
numbered as (
    select cast(null as varchar) as external_customer_id, cast(0 as integer) as customer_sequential_id
    where false
),
{% endif %}

new_customers as (
    select customers.external_customer_id, customers.first_seen_at
    from customers
    where customers.external_customer_id not in (select external_customer_id from numbered)
)

select
    external_customer_id,
    cast(
        (select coalesce(max(customer_sequential_id), 0) from numbered)
        + row_number() over (order by first_seen_at, external_customer_id)
        as integer
    ) as customer_sequential_id,
    {{ utc_now() }} as assigned_at
from new_customers
