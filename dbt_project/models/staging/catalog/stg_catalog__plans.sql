with

source as (
    select * from {{ source('landing', 'catalog_plans') }}
),

typed as (
    select
        plan_code,
        name as plan_name,
        interval as plan_interval,
        upper(currency) as currency,
        tax_codes,
        {{ as_decimal('amount') }} as amount,
        {{ as_decimal('coalesce(minimum_commitment, \'0\')') }} as minimum_commitment,
        -- Meterhouse spend cap (docs/rules.md §12b): NULL = no cap.
        {{ as_decimal('spend_cap_amount') }} as spend_cap_amount,
        coalesce(cast(trial_days as integer), 0) as trial_days,
        coalesce(lower(pay_in_advance) = 'true', false) as is_pay_in_advance,
        coalesce(lower(bill_charges_monthly) = 'true', false) as bills_charges_monthly,
        coalesce(cast(valid_from as date), cast('1900-01-01' as date)) as valid_from
    from source
)

select
    *,
    coalesce(
        lead(valid_from) over (partition by plan_code order by valid_from),
        cast('9999-12-31' as date)
    ) as valid_to
from typed
