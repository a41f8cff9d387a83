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
    and {{ coupon_is_live('coupons', 'coalesce(uses.uses_count, 0)', 'coalesce(uses.used_amount, 0)') }}
group by coupons.external_customer_id
having count(*) > {{ var('max_live_coupons_per_customer') }}
