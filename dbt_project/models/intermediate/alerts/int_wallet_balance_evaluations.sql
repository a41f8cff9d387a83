{{ config(
    materialized='incremental',
    incremental_strategy='append',
    on_schema_change='fail',
    full_refresh=false,
    tags=['alerts'],
) }}
{#
    The ongoing-balance log of wallets (docs/rules.md §21.7): one row per live wallet per run that
    evaluates alerts (every usage refresh and every close), never rebuilt (a --full-refresh keeps
    it). `is_depleted` marks the evaluation that first finds the ongoing balance at or below 0:
    the wallet's first evaluation, or one whose previous evaluation found it positive. It is not
    marked again until an evaluation has found the balance positive, as Lago's
    `depleted_ongoing_balance` flag does; each marked row is one `wallet.depleted_ongoing_balance`
    webhook (docs/webhooks.md).
-#}
with

wallets as (
    select * from {{ ref('int_wallet_balances_now') }}
),

run as (
    select {{ utc_now() }} as evaluated_at
),

last_evaluations as (
    {{ last_evaluations('wallet_code', 'ongoing_balance_amount', 'cast(null as decimal(38, 4))') }}
),

evaluated as (
    select
        wallets.*,
        last_evaluations.ongoing_balance_amount as previous_ongoing_balance_amount,
        run.evaluated_at
    from wallets
    cross join run
    left join last_evaluations on wallets.wallet_code = last_evaluations.wallet_code
)

select
    {{ hash_key(['wallet_code', 'evaluated_at']) }} as evaluation_id,
    wallet_code,
    external_customer_id,
    currency,
    rate_amount,
    balance_amount,
    ongoing_usage_amount,
    ongoing_balance_amount,
    credits_balance,
    credits_ongoing_balance,
    {{ as_money('previous_ongoing_balance_amount') }} as previous_ongoing_balance_amount,
    ongoing_balance_amount <= 0
    and (previous_ongoing_balance_amount is null or previous_ongoing_balance_amount > 0) as is_depleted,
    as_of_at,
    evaluated_at
from evaluated
