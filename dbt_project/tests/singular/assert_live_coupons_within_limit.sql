{#- The coupon model is unrolled to var('max_live_coupons_per_customer') ranks: a customer
    holding more coupons that are not used up would lose the extra ones, so the build fails
    instead. Raise the var in dbt_project.yml to lift the limit. -#}
with

uses as (
    select applied_coupon_id, count(*) as uses_count, sum(credit_amount) as used_amount
    from (
        select distinct applied_coupon_id, invoice_id, credit_amount
        from {{ ref('int_invoice_coupons_applied') }}
    ) as applied_invoices
    group by applied_coupon_id
)

select coupons.external_customer_id, count(*) as live_coupons_count
from {{ ref('int_applied_coupons_validated') }} as coupons
left join uses on coupons.applied_coupon_id = uses.applied_coupon_id
where coupons.rejection_reason is null
    and case
        when coupons.frequency = 'forever' then true
        when coupons.frequency = 'recurring' then coalesce(uses.uses_count, 0) < coupons.frequency_duration
        when coupons.coupon_type = 'percentage' then coalesce(uses.uses_count, 0) = 0
        else coalesce(uses.used_amount, 0) < coupons.amount
    end
group by coupons.external_customer_id
having count(*) > {{ var('max_live_coupons_per_customer') }}
