{#- Wallet top-ups and voids (docs/inputs.md `wallet_transactions/`, docs/rules.md §15), with their
    amount (credits x rate, rounded to the currency) and the instant they count from: granted
    credits and voids at created_at, purchased credits once paid (paid_at; pending until then).
    A purchase issues an untaxed `credit` invoice at created_at (int_invoice_lines_taxed). A row
    of an unknown or rejected wallet is kept with its rejection reason for `rejected_inputs`. -#}
with

transactions as (
    select * from {{ ref('stg_landing__wallet_transactions') }}
),

wallets as (
    select wallet_code, external_customer_id, currency, rate_amount, timezone, rejection_reason
    from {{ ref('int_wallets_validated') }}
),

currencies as (
    select currency, exponent from {{ ref('stg_reference__currencies') }}
)

select
    transactions.wallet_transaction_id,
    transactions.wallet_code,
    wallets.external_customer_id,
    wallets.currency,
    currencies.exponent as currency_exponent,
    wallets.rate_amount,
    transactions.transaction_type,
    transactions.credits,
    {{ round_to_exponent(multiply_exact('transactions.credits', 'wallets.rate_amount'), 'currencies.exponent') }}
        as amount,
    transactions.created_at,
    transactions.paid_at,
    case when transactions.transaction_type = 'purchased' then transactions.paid_at
        else transactions.created_at
    end as settled_at,
    {{ utc_to_local_date('transactions.created_at', 'wallets.timezone') }} as issuing_date,
    case
        when wallets.wallet_code is null then 'unknown_wallet'
        when wallets.rejection_reason is not null then 'rejected_wallet'
    end as rejection_reason,
    case
        when wallets.wallet_code is null then 'the wallet_code is not in wallets/'
        when
            wallets.rejection_reason is not null
            then 'the wallet itself was rejected (' || wallets.rejection_reason || ')'
    end as rejection_detail,
    transactions.source_file,
    transactions.line_number,
    transactions.loaded_at
from transactions
left join wallets on transactions.wallet_code = wallets.wallet_code
left join currencies on wallets.currency = currencies.currency
