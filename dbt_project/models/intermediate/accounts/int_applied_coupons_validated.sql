{#- Coupons applied to customers (docs/inputs.md `applied_coupons/`, docs/rules.md §13), with the
    coupon's terms and the customer's overrides. A row that names an unknown customer or coupon,
    or applies a coupon after it expired (expiry only matters when applying, §13), is kept with
    its rejection reason for `rejected_inputs` and never applied. -#}
with

applied as (
    select * from {{ ref('stg_landing__applied_coupons') }}
),

coupons as (
    select * from {{ ref('stg_catalog__coupons') }}
),

customers as (
    select external_customer_id, timezone from {{ ref('int_customers_deduplicated') }}
),

judged as (
    select
        applied.applied_coupon_id,
        applied.external_customer_id,
        applied.coupon_code,
        coupons.coupon_type,
        coupons.currency,
        coalesce(applied.amount_override, coupons.amount) as amount,
        coalesce(applied.percentage_rate_override, coupons.percentage_rate) as percentage_rate,
        coupons.frequency,
        coupons.frequency_duration,
        coupons.plan_codes,
        coupons.metric_codes,
        applied.applied_at,
        {{ utc_to_local_date('applied.applied_at', 'customers.timezone') }} as applied_on,
        -- §13 application order: metric-limited, then plan-limited, then the rest.
        case
            when coupons.metric_codes is not null then 1
            when coupons.plan_codes is not null then 2
            else 3
        end as limitation_rank,
        {{ applied_coupon_rejection_reason() }} as rejection_reason,
        applied.source_file,
        applied.line_number,
        applied.loaded_at
    from applied
    left join coupons on applied.coupon_code = coupons.coupon_code
    left join customers on applied.external_customer_id = customers.external_customer_id
)

select
    *,
    {{ applied_coupon_rejection_detail() }} as rejection_detail
from judged
