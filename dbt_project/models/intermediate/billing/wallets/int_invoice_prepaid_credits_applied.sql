{#-
    Prepaid credits (docs/rules.md §12 step 8, §15): what each wallet pays of each invoice of the close
    window, one row per invoice and wallet that paid something.

    A customer's wallets pay in rank order (priority, then created_at), so wallet p only depends on
    lower ranks on the same invoice and on its own balance. One block of CTEs per rank (unrolled
    to `var('max_live_wallets_per_customer')`):
      - demand: what the wallet may pay of the invoice: its eligible lines' share of what is still
        due (line amount - coupons - progressive credit + precise tax, less its proportional share
        of credit notes and of lower-ranked wallets), never more than the invoice still owes;
      - balance: the wallet's whole history as one time-ordered stream: settled top-ups add,
        while invoices, voids and the expiry take min(what they ask, balance), a window
        (macros/wallet_stream.sql); what an event took is the drop it caused.
    Payments of earlier closes come back into the stream from this model's earlier rows. An
    invoice is paid at local midnight of its issuing day; a wallet pays invoices from its
    created_at until its expires_at.
-#}
{%- set max_rank = var('max_live_wallets_per_customer') -%}
with

invoices as (
    select * from {{ ref('int_invoice_prepaid_credits_applied__invoices') }}
),

lines_0 as (
    select * from {{ ref('int_invoice_prepaid_credits_applied__lines') }}
),

invoices_0 as (
    select invoice_id, external_customer_id, paid_at, amount_due as remaining_amount from invoices
),

wallets as (
    select * from {{ ref('int_invoice_prepaid_credits_applied__wallets') }}
),

transactions as (
    select *
    from {{ ref('int_wallet_transactions_validated') }}
    where rejection_reason is null
),

{% if is_incremental() %}
earlier_payments as (
    select wallet_code, invoice_id, paid_at, amount from {{ this }} where billing_month < {{ billing_period_start() }}
),
{% else %}
earlier_payments as (
    select
        cast(null as varchar) as wallet_code, cast(null as varchar) as invoice_id,
        cast(null as timestamp) as paid_at, {{ as_money('0') }} as amount
    where false
),
{% endif %}

{# The wallet's history before and around this close, as signed stream events; `takes` marks
    the events that take min(asked, balance). -#}
history as (
    select
        wallet_code, settled_at as event_at, 0 as event_order, wallet_transaction_id as event_id,
        {{ as_decimal('amount') }} as signed_amount, false as takes
    from transactions
    where transaction_type in ('granted', 'purchased') and settled_at is not null
    union all
    select
        wallet_code, created_at as event_at, 1 as event_order, wallet_transaction_id as event_id,
        {{ as_decimal('-amount') }} as signed_amount, true as takes
    from transactions
    where transaction_type = 'voided'
    union all
    select
        wallet_code, paid_at as event_at, 1 as event_order, invoice_id as event_id,
        {{ as_decimal('-amount') }} as signed_amount, false as takes
    from earlier_payments
    union all
    -- The expiry takes whatever is left.
    select
        wallet_code, expires_at as event_at, 2 as event_order, wallet_code as event_id,
        cast(-1000000000000000 as decimal(38, 9)) as signed_amount, true as takes
    from wallets
    where expires_at is not null
),

{% for rank in range(1, max_rank + 1) %}
{%- set before = rank - 1 %}
wallet_{{ rank }} as (
    select * from wallets
    where wallet_rank = {{ rank }}
),

eligible_{{ rank }} as (
    select lines_{{ before }}.invoice_line_id, lines_{{ before }}.invoice_id, lines_{{ before }}.owed_amount
    from lines_{{ before }}
    inner join invoices_{{ before }} on lines_{{ before }}.invoice_id = invoices_{{ before }}.invoice_id
    inner join wallet_{{ rank }} on invoices_{{ before }}.external_customer_id = wallet_{{ rank }}.external_customer_id
    where (
        wallet_{{ rank }}.allowed_line_types is null
        or '|' || wallet_{{ rank }}.allowed_line_types || '|' like '%|' || lines_{{ before }}.line_type || '|%'
    )
    and (
        wallet_{{ rank }}.metric_codes is null
        or (
            lines_{{ before }}.line_type in ('charge', 'spending_minimum')
            and '|' || wallet_{{ rank }}.metric_codes || '|' like '%|' || lines_{{ before }}.metric_code || '|%'
        )
    )
),

demands_{{ rank }} as (
    select
        invoices_{{ before }}.invoice_id,
        invoices_{{ before }}.paid_at,
        wallet_{{ rank }}.wallet_code,
        wallet_{{ rank }}.rate_amount,
        coalesce(sum(eligible_{{ rank }}.owed_amount), 0) as eligible_amount,
        least(
            invoices_{{ before }}.remaining_amount,
            {{ round_to_exponent(
                'coalesce(sum(eligible_' ~ rank ~ '.owed_amount), 0)', 'wallet_' ~ rank ~ '.currency_exponent'
            ) }}
        ) as demand_amount
    from invoices_{{ before }}
    inner join wallet_{{ rank }} on invoices_{{ before }}.external_customer_id = wallet_{{ rank }}.external_customer_id
    left join eligible_{{ rank }} on invoices_{{ before }}.invoice_id = eligible_{{ rank }}.invoice_id
    where invoices_{{ before }}.paid_at >= wallet_{{ rank }}.created_at
        and (wallet_{{ rank }}.expires_at is null or invoices_{{ before }}.paid_at < wallet_{{ rank }}.expires_at)
        and invoices_{{ before }}.remaining_amount > 0
    group by
        invoices_{{ before }}.invoice_id, invoices_{{ before }}.paid_at, invoices_{{ before }}.remaining_amount,
        wallet_{{ rank }}.wallet_code, wallet_{{ rank }}.rate_amount, wallet_{{ rank }}.currency_exponent
),

stream_{{ rank }} as (
    select
        *,
        sum(signed_amount) over wallet_events as running_amount
    from (
        select history.wallet_code, event_at, event_order, event_id, signed_amount, takes
        from history
        inner join wallet_{{ rank }} on history.wallet_code = wallet_{{ rank }}.wallet_code
        union all
        select
            wallet_code, paid_at as event_at, 1 as event_order, invoice_id as event_id,
            {{ as_decimal('-demand_amount') }} as signed_amount, true as takes
        from demands_{{ rank }}
        where demand_amount > 0
    ) as events
    window wallet_events as (
        partition by wallet_code order by event_at, event_order, event_id
        rows between unbounded preceding and current row
    )
),

balances_{{ rank }} as (
    select
        *,
        {{ wallet_balance('running_amount', 'takes', 'wallet_events') }} as balance_amount
    from stream_{{ rank }}
    window wallet_events as (
        partition by wallet_code order by event_at, event_order, event_id
        rows between unbounded preceding and current row
    )
),

payments_{{ rank }} as (
    select
        demands_{{ rank }}.invoice_id,
        demands_{{ rank }}.wallet_code,
        demands_{{ rank }}.rate_amount,
        demands_{{ rank }}.paid_at,
        demands_{{ rank }}.eligible_amount,
        {{ rank }} as wallet_rank,
        {{ as_money('taken.taken_amount') }} as amount
    from demands_{{ rank }}
    inner join (
        select
            wallet_code,
            event_id,
            coalesce(lag(balance_amount) over (
                partition by wallet_code order by event_at, event_order, event_id
            ), 0) - balance_amount as taken_amount
        from balances_{{ rank }}
    ) as taken
        on demands_{{ rank }}.wallet_code = taken.wallet_code
        and demands_{{ rank }}.invoice_id = taken.event_id
    where taken.taken_amount > 0
),

lines_{{ rank }} as (
    select
        invoice_line_id,
        invoice_id,
        line_type,
        metric_code,
        {{ as_decimal('owed_amount - coalesce(' ~ divide_exact('paid_product', 'eligible_amount') ~ ', 0)') }}
            as owed_amount
    from (
        select
            lines_{{ before }}.invoice_line_id,
            lines_{{ before }}.invoice_id,
            lines_{{ before }}.line_type,
            lines_{{ before }}.metric_code,
            lines_{{ before }}.owed_amount,
            payments_{{ rank }}.eligible_amount,
            {{ multiply_exact('payments_' ~ rank ~ '.amount', 'lines_' ~ before ~ '.owed_amount') }} as paid_product
        from lines_{{ before }}
        left join eligible_{{ rank }} on lines_{{ before }}.invoice_line_id = eligible_{{ rank }}.invoice_line_id
        left join payments_{{ rank }}
            on eligible_{{ rank }}.invoice_id = payments_{{ rank }}.invoice_id
    ) as line_payments
),

invoices_{{ rank }} as (
    select
        invoices_{{ before }}.invoice_id,
        invoices_{{ before }}.external_customer_id,
        invoices_{{ before }}.paid_at,
        invoices_{{ before }}.remaining_amount - coalesce(payments_{{ rank }}.amount, 0) as remaining_amount
    from invoices_{{ before }}
    left join payments_{{ rank }} on invoices_{{ before }}.invoice_id = payments_{{ rank }}.invoice_id
),

{% endfor %}

payments as (
    {% for rank in range(1, max_rank + 1) %}
    select * from payments_{{ rank }}
    {% if not loop.last %}union all{% endif %}
    {% endfor %}
)

select
    {{ hash_key(['payments.invoice_id', 'payments.wallet_code']) }} as invoice_prepaid_credit_id,
    payments.invoice_id,
    invoices.external_customer_id,
    invoices.currency,
    invoices.billing_month,
    payments.wallet_code,
    payments.wallet_rank,
    payments.paid_at,
    payments.amount,
    {{ divide_exact('payments.amount', 'payments.rate_amount') }} as credits
from payments
inner join invoices on payments.invoice_id = invoices.invoice_id
