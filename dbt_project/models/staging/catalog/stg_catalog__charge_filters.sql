{#- Priced filters of charges (docs/rules.md §1.11). The filters of a charge are versioned as a set:
    every row of one charge_code with the same valid_from (docs/inputs.md). -#}
with

source as (
    select * from {{ source('landing', 'catalog_charge_filters') }}
),

typed as (
    select
        charge_code,
        filter_code,
        conditions,
        pricing_group_keys,
        {{ typed_charge_properties() }},
        coalesce(cast(valid_from as date), cast('1900-01-01' as date)) as valid_from,
        line_number
    from source
),

versions as (
    select distinct charge_code, valid_from from typed
)

select
    typed.*,
    coalesce(
        (
            select min(later.valid_from) from versions as later
            where later.charge_code = typed.charge_code and later.valid_from > typed.valid_from
        ),
        cast('9999-12-31' as date)
    ) as valid_to
from typed
