with

source as (
    select * from {{ source('landing', 'catalog_charge_tiers') }}
),

typed as (
    select
        charge_code,
        coalesce(filter_code, '') as filter_code,
        {{ as_decimal('from_value') }} as from_value,
        {{ as_decimal('to_value') }} as to_value,
        {{ as_decimal('coalesce(per_unit_amount, \'0\')') }} as per_unit_amount,
        {{ as_decimal('coalesce(flat_amount, \'0\')') }} as flat_amount,
        {{ as_decimal('rate') }} as rate,
        coalesce(cast(valid_from as date), cast('1900-01-01' as date)) as valid_from,
        line_number
    from source
),

ordered as (
    select
        *,
        {# The catalog check ranks tiers with the same statement (macros/tier_bounds.sql). #}
        {{ tier_positions() }}
    from typed
    {{ tier_set_window() }}
)

select
    *,
    -- Rule book §1.3: the adjacent (continuous) convention when every from_value equals the
    -- previous to_value, with at least two tiers; otherwise the inclusive integer convention.
    tier_count > 1 and min(case when tier_rank = 1 or from_value = previous_to_value then 1 else 0 end)
        over (partition by charge_code, filter_code, valid_from)
    = 1 as is_adjacent_convention
from ordered
