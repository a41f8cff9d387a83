{{ config(materialized='ephemeral') }}

{#
    Wallets that can pay an invoice of the window, ranked in paying order (docs/rules.md §15:
    priority, then created_at): usable, created before the month after the window, and not
    expired before the month before it. Ephemeral: compiled into
    int_invoice_prepaid_credits_applied.
-#}
with

wallets as (
    select
        wallets.wallet_code,
        wallets.external_customer_id,
        wallets.rate_amount,
        wallets.allowed_line_types,
        wallets.metric_codes,
        wallets.created_at,
        wallets.expires_at,
        currencies.exponent as currency_exponent,
        row_number() over (
            partition by wallets.external_customer_id
            order by wallets.priority, wallets.created_at, wallets.wallet_code
        ) as wallet_rank
    from {{ ref('int_wallets_validated') }} as wallets
    inner join {{ ref('stg_reference__currencies') }} as currencies on wallets.currency = currencies.currency
    where wallets.rejection_reason is null
        and wallets.created_at < cast({{ add_months(billing_period_end(), 1) }} as timestamp)
        and (
            wallets.expires_at is null
            or wallets.expires_at >= cast({{ add_months(billing_period_start(), -1) }} as timestamp)
        )
)

select * from wallets
