{#- Each distinct pricing_group_keys list of the catalog (charges and filters), one row per key
    (docs/rules.md §1.10). -#}
with

key_lists as (
    select pricing_group_keys from {{ ref('stg_catalog__charges') }}
    where pricing_group_keys is not null
    union
    select pricing_group_keys from {{ ref('stg_catalog__charge_filters') }}
    where pricing_group_keys is not null
)

select distinct
    key_lists.pricing_group_keys,
    trim(group_key.item) as group_key
from key_lists
cross join {{ split_to_rows('key_lists.pricing_group_keys', "'|'") }} as group_key (item)
where trim(group_key.item) <> ''
