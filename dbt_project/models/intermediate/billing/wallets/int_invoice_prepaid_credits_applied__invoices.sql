{{ config(materialized='ephemeral') }}

{#
    The invoices of the close window that wallets can pay (docs/rules.md §15): not a wallet
    top-up (`credit` invoice), with something due, and paid at local midnight of their issuing
    day (paid_at). Ephemeral: compiled into int_invoice_prepaid_credits_applied.
-#}
with

customers as (
    select external_customer_id, timezone from {{ ref('int_customers_deduplicated') }}
),

invoices as (
    select
        amounts.invoice_id,
        amounts.external_customer_id,
        amounts.currency,
        amounts.billing_month,
        amounts.issuing_date,
        amounts.sub_total_including_taxes_amount,
        amounts.amount_due,
        {{ local_midnight_to_utc('amounts.issuing_date', 'customers.timezone') }} as paid_at
    from {{ ref('int_invoice_amounts_due') }} as amounts
    inner join customers on amounts.external_customer_id = customers.external_customer_id
    where amounts.billing_month >= {{ billing_period_start() }} and amounts.billing_month < {{ billing_period_end() }}
        and amounts.invoice_type <> 'credit'
        and amounts.amount_due > 0
)

select * from invoices
