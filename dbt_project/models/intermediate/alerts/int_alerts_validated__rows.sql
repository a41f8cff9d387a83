{{ config(materialized='ephemeral') }}

{#
    Every landed alert row (docs/inputs.md `alerts/`) with its target: a subscription alert's
    external_subscription_id, or a wallet alert's wallet_code. The rows that
    int_alerts_validated judges per version and returns; ephemeral, compiled into it.
-#}
with

rows_loaded as (
    select
        *,
        case when external_subscription_id is not null then 'subscription' else 'wallet' end as target_kind,
        coalesce(external_subscription_id, wallet_code) as target_id
    from {{ ref('stg_landing__alerts') }}
)

select * from rows_loaded
