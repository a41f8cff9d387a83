with

source as (
    select * from {{ source('landing', 'catalog_charges') }}
),

typed as (
    select
        charge_code,
        plan_code,
        metric_code,
        charge_model,
        tax_codes,
        pricing_group_keys,
        {{ typed_charge_properties() }},
        {{ as_decimal('min_amount') }} as min_amount,
        coalesce(lower(pay_in_advance) = 'true', false) as is_pay_in_advance,
        coalesce(lower(invoiceable) = 'true', invoiceable is null) as is_invoiceable,
        coalesce(lower(prorated) = 'true', false) as is_prorated,
        coalesce(cast(valid_from as date), cast('1900-01-01' as date)) as valid_from
    from source
)

select
    *,
    coalesce(
        lead(valid_from) over (partition by charge_code order by valid_from),
        cast('9999-12-31' as date)
    ) as valid_to
from typed
