-- The rules of metric_filters.csv (docs/inputs.md, docs/rules.md §1.11).

-- rule: metric_code must name a metric of billable_metrics.csv
select line_number
from raw.catalog_metric_filters
where metric_code not in (select metric_code from raw.catalog_billable_metrics)

-- rule: key is defined twice for the same metric
select line_number
from raw.catalog_metric_filters
qualify count(*) over (partition by metric_code, key) > 1

-- rule: values must be `|`-separated, with no empty value and no spaces around a value
select line_number
from raw.catalog_metric_filters as m
where m."values" is not null
    and exists (
        select 1
        from unnest(string_split(m."values", '|')) as s(item)
        where s.item = '' or s.item <> trim(s.item)
    )

-- rule: values must not list a value twice
select line_number
from raw.catalog_metric_filters as m
where m."values" is not null
    and len(string_split(m."values", '|')) <> len(list_distinct(string_split(m."values", '|')))

-- rule: key must not contain `=`, `;` or `|`, and a value must not be `*` nor contain `;` (they are
--   the syntax of conditions in charge_filters.csv)
select line_number
from raw.catalog_metric_filters as m
where regexp_matches(m.key, '[=;|]')
    or regexp_matches(m."values", ';')
    or list_contains(string_split(m."values", '|'), '*')
