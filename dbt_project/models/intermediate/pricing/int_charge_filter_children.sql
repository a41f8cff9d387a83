{#-
    "Most specific wins" (docs/rules.md §1.11): a filter's children are the other filters of the same
    charge version that hold all of its keys, sharing at least one allowed value on each. An event
    that matches a child is not counted by the parent. Filters with the same keys never overlap
    (the catalog refuses it), so a child always has more keys than its parent.
-#}
with

conditions as (
    select charge_code, valid_from, filter_code, filter_key, filter_value, key_count
    from {{ ref('int_charge_filter_conditions') }}
),

shared_keys as (
    select
        parent.charge_code,
        parent.valid_from,
        parent.filter_code,
        child.filter_code as child_filter_code,
        parent.key_count,
        count(distinct parent.filter_key) as overlapping_key_count
    from conditions as parent
    inner join conditions as child
        on parent.charge_code = child.charge_code
        and parent.valid_from = child.valid_from
        and parent.filter_code <> child.filter_code
        and parent.filter_key = child.filter_key
        and parent.filter_value = child.filter_value
    group by parent.charge_code, parent.valid_from, parent.filter_code, child.filter_code, parent.key_count
)

select charge_code, valid_from, filter_code, child_filter_code
from shared_keys
where overlapping_key_count = key_count
