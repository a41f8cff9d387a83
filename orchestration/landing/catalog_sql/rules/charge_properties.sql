-- The rules on the pricing properties of a charge (charges.csv) or of a filter
-- (charge_filters.csv), read once for each file. {table} is the file's raw table; {priced} holds
-- its rows with the charge_model that prices them and a filter_code (empty for a charge's own
-- properties; catalog_sql/priced.sql). {subject} starts each model's message, {amounts} lists the
-- file's amount columns and {tiers_named_by} says how a tier names what it prices.

-- rule: {column} must be a non-negative decimal
-- columns: {amounts}
select line_number
from {table}
where {column} is not null
    and (
        not ({column} is null or try_cast({column} as decimal(38, 9)) is not null)
        or try_cast({column} as decimal(38, 9)) < 0
    )

-- rule: {subject}standard charges need an amount
select line_number
from {priced}
where charge_model = 'standard'
    and amount is null

-- rule: {subject}package charges need an amount
-- column: amount
select line_number
from {priced}
where charge_model = 'package'
    and amount is null

-- rule: {subject}package charges need a whole package_size of at least 1
-- column: package_size
select line_number
from {priced}
where charge_model = 'package'
    and (
        try_cast(package_size as integer) is null
        or try_cast(package_size as decimal(38, 9)) <> try_cast(package_size as integer)
        or try_cast(package_size as integer) < 1
    )

-- rule: {subject}percentage charges need a rate
select line_number
from {priced}
where charge_model = 'percentage'
    and rate is null

-- rule: {subject}graduated, volume and graduated_percentage charges need tiers in
--   charge_tiers.csv with {tiers_named_by}
select p.line_number
from {priced} as p
where p.charge_model in ('graduated', 'volume', 'graduated_percentage')
    and not exists (
        select 1
        from raw.catalog_charge_tiers as t
        where t.charge_code = p.charge_code and t.filter_code is not distinct from p.filter_code
    )

-- rule: free_units_per_events must be a whole number of events
select line_number
from {table}
where not (
    free_units_per_events is null
    or try_cast(free_units_per_events as decimal(38, 9))
    = floor(try_cast(free_units_per_events as decimal(38, 9)))
)

-- rule: per_transaction_min_amount must not exceed per_transaction_max_amount
select line_number
from {table}
where try_cast(per_transaction_min_amount as decimal(38, 9))
    > try_cast(per_transaction_max_amount as decimal(38, 9))

-- rule: pricing_group_keys must be `|`-separated non-empty keys (no `a||b`, no leading or
--   trailing `|`)
select line_number
from {table} as t
where t.pricing_group_keys is not null
    and exists (
        select 1 from unnest(string_split(t.pricing_group_keys, '|')) as s(item)
        where trim(s.item) = ''
    )

-- rule: pricing_group_keys: a key must not start or end with spaces (an event property key is
--   matched as written)
select t.line_number, s.item
from {table} as t, unnest(string_split(t.pricing_group_keys, '|')) as s(item)
where trim(s.item) <> ''
    and s.item <> trim(s.item)
order by t.line_number
