-- The rules of charge_filters.csv (docs/inputs.md, docs/rules.md §1.11). The conditions are read
-- from the work tables filter_conditions and filter_values (catalog_sql/filter_conditions.sql),
-- which the dbt model int_charge_filter_conditions states with the same macros. Its pricing
-- properties follow charge_properties.sql.

-- rule: charge_code must name a charge of charges.csv
select line_number
from raw.catalog_charge_filters
where charge_code not in (select charge_code from raw.catalog_charges)

-- rule: filter_code is defined twice for the same charge and valid_from
select line_number
from raw.catalog_charge_filters
qualify count(*) over (partition by charge_code, filter_code, coalesce(valid_from, '')) > 1

-- rule: valid_from must be a date
select line_number
from raw.catalog_charge_filters
where not (valid_from is null or try_cast(valid_from as date) is not null)

-- rule: conditions must read key=v1|v2;key2=v3: `;`-separated keys, each with `=` and
--   `|`-separated values, none of them empty or with spaces around it
select distinct line_number
from filter_conditions
where {{ malformed_filter_condition() }}

-- rule: conditions: a key may appear only once
select distinct line_number
from filter_conditions
where filter_key <> ''
group by line_number, filter_key
having count(distinct part_index) > 1

-- rule: conditions: each key must be one metric_filters.csv declares for the charge's metric
select distinct c.line_number
from filter_conditions as c
inner join filter_charges as fc on fc.line_number = c.line_number
where c.filter_key <> ''
    and c.filter_key = trim(c.filter_key)
    and not exists (
        select 1
        from raw.catalog_metric_filters as m
        where m.metric_code = fc.metric_code and m.key = c.filter_key
    )

-- rule: conditions: each value must be one metric_filters.csv declares for its key, or `*` alone
--   (every declared value)
select distinct c.line_number
from filter_conditions as c
inner join filter_charges as fc on fc.line_number = c.line_number
where c.filter_value <> ''
    and exists (
        select 1
        from raw.catalog_metric_filters as m
        where m.metric_code = fc.metric_code and m.key = c.filter_key
    )
    and (
        (c.filter_value = '*' and c.value_count > 1)
        or (
            c.filter_value <> '*'
            and not exists (
                select 1
                from raw.catalog_metric_filters as m
                where m.metric_code = fc.metric_code
                    and m.key = c.filter_key
                    and list_contains(string_split(m."values", '|'), c.filter_value)
            )
        )
    )

-- rule: filters of one charge with the same keys must not overlap (share a value on every key,
--   `*` counting as every declared value): Lago's pricing of overlapping filters with the same
--   keys is degenerate, so they are refused (docs/rules.md §1.11)
with key_sets as (
    select
        line_number,
        list_sort(list(distinct filter_key)) as keys,
        count(distinct filter_key) as key_count
    from filter_values
    group by line_number
),

shared as (
    select a.line_number, b.line_number as other_line, count(distinct a.filter_key) as shared_keys
    from filter_values as a
    inner join filter_values as b
        on a.charge_code = b.charge_code
        and a.valid_from = b.valid_from
        and a.filter_key = b.filter_key
        and a.filter_value = b.filter_value
        and a.line_number <> b.line_number
    group by a.line_number, b.line_number
)

select distinct s.line_number
from shared as s
inner join key_sets as k on k.line_number = s.line_number
inner join key_sets as o on o.line_number = s.other_line
where k.keys = o.keys and s.shared_keys = k.key_count
