{{ config(tags=['alerts']) }}
{#
    The balance and the ongoing balance of every usable wallet now (docs/rules.md §21.7), for the
    wallet alerts and `wallet.depleted_ongoing_balance`. "Now" is the instant of the current usage
    last refreshed (the run's own instant when there is none).

    - balance: the wallet's ledger (docs/rules.md §15, macros/wallet_stream.sql) over its settled
      movements up to now: top-ups settled by then, voids, the expiry when reached, and what
      finalized invoices consumed (billing.fct_wallet_transactions as the last close wrote it).
      Draft invoices consume nothing yet, as in Lago, where credits are applied at finalization;
    - ongoing usage of the customer in the wallet's currency: its current usage with taxes
      (billing.fct_usage_current_subscriptions; not a period a close has invoiced since) plus its
      draft invoices that are due something before wallet credits (total + prepaid credits > 0,
      billing.fct_invoices);
    - the ongoing usage is taken from the customer's live wallets of that currency in order of
      priority, then creation: each takes up to its balance, the last one the rest;
    - ongoing balance = balance - the ongoing usage it takes. Credits = amount / rate_amount.

    The close's tables are read as they are: a usage refresh does not rebuild them (a refresh
    selects the alert models, not their close-side parents, orchestration/assets/usage.py), and
    before any close they do not exist (no consumption, no draft).
-#}
{%- set ledger = ref('fct_wallet_transactions') -%}
{%- set invoices = ref('fct_invoices') -%}
{# A unit test's fixture has no schema: it is a CTE of the test's query. -#}
{%- set ledger_exists = not execute or ledger.schema is none or load_relation(ledger) is not none -%}
{%- set invoices_exist = not execute or invoices.schema is none or load_relation(invoices) is not none -%}
with

wallets as (
    select wallet_code, external_customer_id, currency, rate_amount, priority, created_at, expires_at
    from {{ ref('int_wallets_validated') }}
    where rejection_reason is null
),

currencies as (
    select currency, exponent from {{ ref('stg_reference__currencies') }}
),

usage_to_date as (
    select external_customer_id, currency, total_amount, as_of_at, is_invoiced_since
    from {{ ref('int_wallet_balances_now__usage') }}
),

usage as (
    select external_customer_id, currency, total_amount, as_of_at
    from usage_to_date
    where not is_invoiced_since
),

run as (
    select coalesce((select max(as_of_at) from usage_to_date), {{ utc_now() }}) as as_of_at
),

top_ups_and_voids as (
    select
        transactions.wallet_transaction_id,
        transactions.wallet_code,
        coalesce(transactions.settled_at, transactions.created_at) as event_at,
        case when transactions.transaction_type = 'voided' then 1 else 0 end as event_order,
        case when transactions.transaction_type = 'voided' then {{ as_decimal('-transactions.amount') }}
            else {{ as_decimal('transactions.amount') }}
        end as signed_amount,
        transactions.transaction_type = 'voided' as takes
    from {{ ref('int_wallet_transactions_validated') }} as transactions
    cross join run
    where transactions.rejection_reason is null
        and (transactions.transaction_type = 'voided' or transactions.settled_at is not null)
        and coalesce(transactions.settled_at, transactions.created_at) <= run.as_of_at
),

{% if ledger_exists %}
consumptions as (
    select
        ledger.wallet_transaction_id,
        ledger.wallet_code,
        ledger.created_at as event_at,
        1 as event_order,
        {{ as_decimal('-ledger.amount') }} as signed_amount,
        false as takes
    from {{ ledger }} as ledger
    cross join run
    where ledger.transaction_type = 'consumed' and ledger.status = 'settled' and ledger.created_at <= run.as_of_at
),
{% else %}
consumptions as (
    select
        cast(null as varchar) as wallet_transaction_id,
        cast(null as varchar) as wallet_code,
        cast(null as timestamp) as event_at,
        1 as event_order,
        {{ as_decimal('null') }} as signed_amount,
        false as takes
    where 1 = 0
),
{% endif %}

expiries as (
    select
        {{ hash_key(['wallets.wallet_code', "'expired'"]) }} as wallet_transaction_id,
        wallets.wallet_code,
        wallets.expires_at as event_at,
        2 as event_order,
        cast(-1000000000000000 as decimal(38, 9)) as signed_amount,
        true as takes
    from wallets
    cross join run
    where wallets.expires_at <= run.as_of_at
),

events as (
    select * from top_ups_and_voids
    union all
    select * from consumptions
    union all
    select * from expiries
),

balances as (
    select
        wallet_code,
        {{ wallet_balance('running_amount', 'takes', 'wallet_events') }} as balance_amount,
        row_number() over (
            partition by wallet_code order by event_at desc, event_order desc, wallet_transaction_id desc
        ) as recency
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

{% if invoices_exist %}
drafts as (
    select
        external_customer_id,
        currency,
        sum(total_amount + prepaid_credit_amount) as draft_amount
    from {{ invoices }}
    where status = 'draft' and total_amount + prepaid_credit_amount > 0
    group by external_customer_id, currency
),
{% else %}
drafts as (
    select
        cast(null as varchar) as external_customer_id,
        cast(null as varchar) as currency,
        cast(null as decimal(38, 4)) as draft_amount
    where 1 = 0
),
{% endif %}

ongoing_usage as (
    select external_customer_id, currency, sum(amount) as usage_amount
    from (
        select external_customer_id, currency, total_amount as amount from usage
        union all
        select external_customer_id, currency, draft_amount from drafts
    ) as parts
    group by external_customer_id, currency
),

live_wallets as (
    select
        wallets.*,
        coalesce(balances.balance_amount, 0) as balance_amount,
        run.as_of_at
    from wallets
    cross join run
    left join balances on wallets.wallet_code = balances.wallet_code and balances.recency = 1
    where wallets.created_at <= run.as_of_at
),

{# What the wallets of the customer's currency ahead of this one can take. -#}
queued as (
    select
        live_wallets.*,
        coalesce(ongoing_usage.usage_amount, 0) as usage_amount,
        coalesce(sum(live_wallets.balance_amount) over (
            partition by live_wallets.external_customer_id, live_wallets.currency
            order by live_wallets.priority, live_wallets.created_at, live_wallets.wallet_code
            rows between unbounded preceding and 1 preceding
        ), 0) as balance_ahead,
        row_number() over (
            partition by live_wallets.external_customer_id, live_wallets.currency
            order by live_wallets.priority desc, live_wallets.created_at desc, live_wallets.wallet_code desc
        ) = 1 as is_last
    from live_wallets
    left join ongoing_usage
        on live_wallets.external_customer_id = ongoing_usage.external_customer_id
        and live_wallets.currency = ongoing_usage.currency
    where live_wallets.expires_at is null or live_wallets.expires_at > live_wallets.as_of_at
),

allocated as (
    select
        queued.*,
        case
            when queued.is_last then greatest(queued.usage_amount - queued.balance_ahead, 0)
            else least(queued.balance_amount, greatest(queued.usage_amount - queued.balance_ahead, 0))
        end as ongoing_usage_amount
    from queued
),

valued as (
    select
        allocated.*,
        allocated.balance_amount - allocated.ongoing_usage_amount as ongoing_balance_amount,
        currencies.exponent
    from allocated
    inner join currencies on allocated.currency = currencies.currency
)

select
    wallet_code,
    external_customer_id,
    currency,
    rate_amount,
    {{ as_money('balance_amount') }} as balance_amount,
    {{ as_money('ongoing_usage_amount') }} as ongoing_usage_amount,
    {{ as_money('ongoing_balance_amount') }} as ongoing_balance_amount,
    {{ to_minor_units('balance_amount', 'exponent') }} as balance_cents,
    {{ to_minor_units('ongoing_balance_amount', 'exponent') }} as ongoing_balance_cents,
    {{ as_decimal(divide_exact('balance_amount', 'rate_amount')) }} as credits_balance,
    {{ as_decimal(divide_exact('ongoing_balance_amount', 'rate_amount')) }} as credits_ongoing_balance,
    as_of_at
from valued
