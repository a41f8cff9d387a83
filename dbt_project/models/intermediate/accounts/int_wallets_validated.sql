{#- Prepaid-credit wallets (docs/inputs.md `wallets/`, docs/rules.md §15). A wallet of an unknown customer, or in
    another currency than the customer's (one currency per customer, no conversion), is kept
    with its rejection reason for `rejected_inputs` and never used. -#}
with

wallets as (
    select * from {{ ref('stg_landing__wallets') }}
),

customers as (
    select external_customer_id, currency, timezone from {{ ref('int_customers_deduplicated') }}
),

judged as (
    select
        wallets.*,
        customers.timezone,
        {{ wallet_rejection_reason() }} as rejection_reason
    from wallets
    left join customers on wallets.external_customer_id = customers.external_customer_id
)

select
    judged.*,
    {{ wallet_rejection_detail() }} as rejection_detail
from judged
