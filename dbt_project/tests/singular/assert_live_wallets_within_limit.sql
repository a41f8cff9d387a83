{#- The prepaid-credit model is unrolled to var('max_live_wallets_per_customer') ranks of the
    wallets live in a close: a customer with more would lose the extra ones, so the build fails
    instead. The count peaks in a month where a wallet was created. Raise the var in
    dbt_project.yml to lift the limit. -#}
with

wallets as (
    select external_customer_id, created_at, expires_at
    from {{ ref('int_wallets_validated') }}
    where rejection_reason is null
),

months as (
    select distinct external_customer_id, {{ trunc_date('month', 'created_at') }} as month_start
    from wallets
)

select months.external_customer_id, months.month_start, count(*) as live_wallets_count
from months
inner join wallets
    on months.external_customer_id = wallets.external_customer_id
    and wallets.created_at < {{ add_months('months.month_start', 1) }}
    and (wallets.expires_at is null or wallets.expires_at >= months.month_start)
group by months.external_customer_id, months.month_start
having count(*) > {{ var('max_live_wallets_per_customer') }}
