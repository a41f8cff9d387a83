-- The rules of charges.csv (docs/inputs.md). Its pricing properties follow charge_properties.sql.

-- rule: plan_code must name a plan of plans.csv
select line_number
from raw.catalog_charges
where plan_code not in (select plan_code from raw.catalog_plans)

-- rule: metric_code must name a metric of billable_metrics.csv
select line_number
from raw.catalog_charges
where metric_code not in (select metric_code from raw.catalog_billable_metrics)

-- rule: charge_model must be standard, package, graduated, volume, percentage,
--   graduated_percentage or dynamic
select line_number
from raw.catalog_charges
where charge_model not in (
    'standard', 'package', 'graduated', 'volume', 'percentage', 'graduated_percentage', 'dynamic'
)

-- rule: {column} must be true or false
-- columns: pay_in_advance, invoiceable, prorated
select line_number
from raw.catalog_charges
where not ({column} is null or lower({column}) in ('true', 'false'))

-- rule: {column} must be a date
-- columns: valid_from
select line_number
from raw.catalog_charges
where not ({column} is null or try_cast({column} as date) is not null)

-- rule: charge_code is defined twice with the same valid_from
select line_number
from raw.catalog_charges
qualify count(*) over (partition by charge_code, coalesce(valid_from, '')) > 1

-- rule: tax_codes must name taxes of taxes.csv
select line_number
from raw.catalog_charges as t
where exists (
    select 1
    from unnest(string_split(coalesce(t.tax_codes, ''), '|')) as s(code)
    where trim(s.code) <> '' and trim(s.code) not in (select tax_code from raw.catalog_taxes)
)

-- Rule book §17b: combinations Lago refuses.

-- rule: §17b: volume charges cannot be paid in advance
select line_number
from raw.catalog_charges
where charge_model = 'volume'
    and coalesce(lower(pay_in_advance) = 'true', false)

-- rule: §17b: pay_in_advance needs a count, sum or unique_count metric
select c.line_number
from raw.catalog_charges as c
inner join raw.catalog_billable_metrics as m on m.metric_code = c.metric_code
where coalesce(lower(c.pay_in_advance) = 'true', false)
    and m.aggregation not in ('count', 'sum', 'unique_count')

-- rule: §17b: prorated needs a recurring metric other than weighted_sum
select c.line_number
from raw.catalog_charges as c
inner join raw.catalog_billable_metrics as m on m.metric_code = c.metric_code
where coalesce(lower(c.prorated) = 'true', false)
    and (not coalesce(lower(m.recurring) = 'true', false) or m.aggregation = 'weighted_sum')

-- rule: §17b: prorated pay-in-advance charges must be standard
select line_number
from raw.catalog_charges
where coalesce(lower(prorated) = 'true', false)
    and coalesce(lower(pay_in_advance) = 'true', false)
    and charge_model <> 'standard'

-- rule: §17b: prorated charges in arrears must be standard, volume or graduated
select line_number
from raw.catalog_charges
where coalesce(lower(prorated) = 'true', false)
    and not coalesce(lower(pay_in_advance) = 'true', false)
    and charge_model not in ('standard', 'volume', 'graduated')

-- rule: §17b: a spending minimum (min_amount) is not allowed on pay-in-advance charges
select line_number
from raw.catalog_charges
where coalesce(lower(pay_in_advance) = 'true', false)
    and coalesce(try_cast(min_amount as decimal(38, 9)), 0) > 0

-- rule: §17b: invoiceable false is only allowed on pay-in-advance charges
select line_number
from raw.catalog_charges
where lower(invoiceable) = 'false'
    and not coalesce(lower(pay_in_advance) = 'true', false)

-- rule: §17b: dynamic charges need a sum metric
select c.line_number
from raw.catalog_charges as c
inner join raw.catalog_billable_metrics as m on m.metric_code = c.metric_code
where c.charge_model = 'dynamic'
    and m.aggregation <> 'sum'
