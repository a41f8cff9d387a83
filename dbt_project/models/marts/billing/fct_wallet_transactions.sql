{#- The prepaid-credit ledger (docs/tables.md, docs/rules.md §15): every movement of every wallet with
    the balance after it, in the order it happened. Top-ups count from when they settle (granted
    at once, purchased once paid; an unpaid purchase is `pending` and moves nothing); an invoice
    consumes at local midnight of its issuing day (`pending` while the invoice is a draft); a void
    and the expiry take min(what they ask, balance), computed like the payments themselves
    (macros/wallet_stream.sql). Expiries show once the closes reach them. -#}
with

wallets as (
    select wallet_code, external_customer_id, currency, rate_amount, timezone, expires_at
    from {{ ref('int_wallets_validated') }}
    where rejection_reason is null
),

top_ups_and_voids as (
    select
        wallet_transaction_id,
        wallet_code,
        transaction_type,
        case when settled_at is null then 'pending' else 'settled' end as status,
        amount,
        case when transaction_type = 'purchased' then {{ hash_key(['wallet_transaction_id']) }} end as invoice_id,
        created_at,
        coalesce(settled_at, created_at) as event_at,
        case when transaction_type = 'voided' then 1 else 0 end as event_order,
        case
            when transaction_type = 'voided' then {{ as_decimal('-amount') }}
            when settled_at is null then {{ as_decimal('0') }}
            else {{ as_decimal('amount') }}
        end as signed_amount,
        transaction_type = 'voided' as takes
    from {{ ref('int_wallet_transactions_validated') }}
    where rejection_reason is null
),

consumptions as (
    select
        {{ hash_key(['credits.invoice_id', 'credits.wallet_code']) }} as wallet_transaction_id,
        credits.wallet_code,
        'consumed' as transaction_type,
        case when credits.status = 'finalized' then 'settled' else 'pending' end as status,
        credits.amount,
        credits.invoice_id,
        {{ local_midnight_to_utc('invoices.issuing_date', 'wallets.timezone') }} as created_at
    from {{ ref('fct_invoice_credits') }} as credits
    inner join {{ ref('fct_invoices') }} as invoices on credits.invoice_id = invoices.invoice_id
    inner join wallets on credits.wallet_code = wallets.wallet_code
    where credits.credit_type = 'prepaid_credit'
),

expiries as (
    select
        {{ hash_key(['wallet_code', "'expired'"]) }} as wallet_transaction_id,
        wallet_code,
        'expired' as transaction_type,
        'settled' as status,
        expires_at as created_at
    from wallets
    where expires_at < cast({{ billing_period_end() }} as timestamp)
),

events as (
    select
        wallet_transaction_id, wallet_code, transaction_type, status, amount, invoice_id, created_at,
        event_at, event_order, signed_amount, takes
    from top_ups_and_voids
    union all
    select
        wallet_transaction_id, wallet_code, transaction_type, status, amount, invoice_id, created_at,
        created_at as event_at, 1 as event_order, {{ as_decimal('-amount') }} as signed_amount, false as takes
    from consumptions
    union all
    select
        wallet_transaction_id, wallet_code, transaction_type, status, cast(null as decimal(38, 4)) as amount,
        cast(null as varchar) as invoice_id, created_at, created_at as event_at, 2 as event_order,
        cast(-1000000000000000 as decimal(38, 9)) as signed_amount, true as takes
    from expiries
),

balances as (
    select
        *,
        {{ wallet_balance('running_amount', 'takes', 'wallet_events') }} as balance_amount
    from (
        select *, sum(signed_amount) over wallet_events as running_amount
        from events
        window wallet_events as (
            partition by wallet_code order by event_at, event_order, wallet_transaction_id
            rows between unbounded preceding and current row
        )
    ) as running
    window wallet_events as (
        partition by wallet_code order by event_at, event_order, wallet_transaction_id
        rows between unbounded preceding and current row
    )
),

movements as (
    select
        balances.*,
        case when balances.takes
                then coalesce(lag(balances.balance_amount) over (
                        partition by balances.wallet_code
                        order by balances.event_at, balances.event_order, balances.wallet_transaction_id
                    ), 0) - balances.balance_amount
            else balances.amount
        end as moved_amount
    from balances
)

select
    movements.wallet_transaction_id,
    movements.wallet_code,
    wallets.external_customer_id,
    wallets.currency,
    movements.transaction_type,
    movements.status,
    {{ as_decimal(divide_exact('movements.moved_amount', 'wallets.rate_amount')) }} as credits,
    {{ as_money('movements.moved_amount') }} as amount,
    movements.invoice_id,
    movements.created_at,
    movements.event_at as settled_at,
    {{ trunc_date('month', utc_to_local_date('movements.event_at', 'wallets.timezone')) }} as billing_month,
    {{ as_decimal(divide_exact('movements.balance_amount', 'wallets.rate_amount')) }} as credits_balance_after,
    {{ as_money('movements.balance_amount') }} as balance_amount_after
from movements
inner join wallets on movements.wallet_code = wallets.wallet_code
