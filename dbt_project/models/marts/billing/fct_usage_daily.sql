{{ config(
    tags=['usage'],
    materialized='incremental',
    incremental_strategy='append',
    on_schema_change='fail',
    pre_hook="{% if is_incremental() %}delete from {{ this }} where usage_daily_id in (select "
        ~ hash_key(['external_subscription_id', 'charge_code', 'as_of_on'])
        ~ " from {{ ref('int_usage_periods') }} inner join (select distinct plan_code, charge_code from {{ ref('stg_catalog__charges') }}) as plan_charges using (plan_code)){% endif %}",
) }}
-- depends_on: {{ ref('stg_catalog__charges') }}
-- depends_on: {{ ref('int_usage_periods') }}
{#
    Daily usage (docs/current-usage.md, docs/rules.md §20.8): each refresh writes, per active
    subscription and charge, the period to date as of its instant under the instant's local day,
    replacing that day's earlier row; the day's difference is taken from the latest earlier day
    of the same period (the same from/to), or is the whole usage when there is none (a new period).
-#}
with

today as (
    select
        lines.external_subscription_id,
        lines.external_customer_id,
        lines.charge_code,
        lines.currency,
        lines.from_datetime,
        lines.to_datetime,
        periods.as_of_on as usage_date,
        {{ as_decimal('sum(lines.units)') }} as units,
        sum(lines.events_count) as events_count,
        {{ as_money('sum(lines.amount)') }} as amount,
        max(lines.computed_at) as refreshed_at
    from {{ ref('fct_usage_current') }} as lines
    inner join {{ ref('int_usage_periods') }} as periods
        on lines.external_subscription_id = periods.external_subscription_id
    group by
        lines.external_subscription_id, lines.external_customer_id, lines.charge_code, lines.currency,
        lines.from_datetime, lines.to_datetime, periods.as_of_on
),

{% if is_incremental() %}
previous as (
    select *
    from (
        select
            earlier.external_subscription_id,
            earlier.charge_code,
            earlier.from_datetime,
            earlier.to_datetime,
            earlier.units,
            earlier.events_count,
            earlier.amount,
            row_number() over (
                partition by earlier.external_subscription_id, earlier.charge_code
                order by earlier.usage_date desc
            ) as recency_rank
        from {{ this }} as earlier
        inner join today
            on earlier.external_subscription_id = today.external_subscription_id
            and earlier.charge_code = today.charge_code
            and earlier.from_datetime = today.from_datetime
            and earlier.to_datetime = today.to_datetime
            and earlier.usage_date < today.usage_date
    ) as ranked
    where recency_rank = 1
),
{% else %}
previous as (
    select
        cast(null as varchar) as external_subscription_id,
        cast(null as varchar) as charge_code,
        {{ as_decimal('null') }} as units,
        cast(null as bigint) as events_count,
        {{ as_money('null') }} as amount
    where false
),
{% endif %}

daily as (
    select
        today.*,
        {{ as_decimal('today.units - coalesce(previous.units, 0)') }} as units_diff,
        today.events_count - coalesce(previous.events_count, 0) as events_count_diff,
        {{ as_money('today.amount - coalesce(previous.amount, 0)') }} as amount_diff
    from today
    left join previous
        on today.external_subscription_id = previous.external_subscription_id
        and today.charge_code = previous.charge_code
)

select
    {{ hash_key(['external_subscription_id', 'charge_code', 'usage_date']) }} as usage_daily_id,
    external_subscription_id,
    external_customer_id,
    charge_code,
    usage_date,
    from_datetime,
    to_datetime,
    currency,
    units,
    cast(events_count as bigint) as events_count,
    amount,
    units_diff,
    cast(events_count_diff as bigint) as events_count_diff,
    amount_diff,
    refreshed_at
from daily
