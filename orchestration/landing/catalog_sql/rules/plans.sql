-- The rules of plans.csv (docs/inputs.md).

-- rule: interval must be weekly, monthly, quarterly, semiannual or yearly
select line_number
from raw.catalog_plans
where interval not in ('weekly', 'monthly', 'quarterly', 'semiannual', 'yearly')

-- rule: currency must be an ISO 4217 code shipped in seeds/reference/currencies.csv
select line_number
from raw.catalog_plans
where currency not in (select currency from catalog_currencies)

-- rule: the subscription fee must be a non-negative decimal
-- column: amount
select line_number
from raw.catalog_plans
where (
    not (amount is null or try_cast(amount as decimal(38, 9)) is not null)
    or try_cast(amount as decimal(38, 9)) < 0
)

-- rule: minimum_commitment must be a decimal
-- column: minimum_commitment
select line_number
from raw.catalog_plans
where not (minimum_commitment is null or try_cast(minimum_commitment as decimal(38, 9)) is not null)

-- rule: spend_cap_amount must be empty (no cap) or a non-negative decimal (docs/rules.md §12b)
-- column: spend_cap_amount
select line_number, spend_cap_amount
from raw.catalog_plans
where (
    not (spend_cap_amount is null or try_cast(spend_cap_amount as decimal(38, 9)) is not null)
    or try_cast(spend_cap_amount as decimal(38, 9)) < 0
)

-- rule: {column} must be true or false
-- columns: pay_in_advance, bill_charges_monthly
select line_number
from raw.catalog_plans
where not ({column} is null or lower({column}) in ('true', 'false'))

-- rule: valid_from must be a date
-- column: valid_from
select line_number
from raw.catalog_plans
where not (valid_from is null or try_cast(valid_from as date) is not null)

-- rule: bill_charges_monthly is only for yearly and semiannual plans (docs/rules.md §8)
select line_number
from raw.catalog_plans
where coalesce(lower(bill_charges_monthly) = 'true', false)
    and interval not in ('yearly', 'semiannual')

-- rule: trial_days must be a whole number of days, 0 or more (docs/rules.md §9)
select line_number
from raw.catalog_plans
where trial_days is not null
    and (
        try_cast(trial_days as integer) is null
        or try_cast(trial_days as integer) < 0
        or try_cast(trial_days as decimal(38, 9)) <> try_cast(trial_days as integer)
    )

-- rule: plan_code is defined twice with the same valid_from
select line_number
from raw.catalog_plans
qualify count(*) over (partition by plan_code, coalesce(valid_from, '')) > 1

-- rule: tax_codes must name taxes of taxes.csv
select line_number
from raw.catalog_plans as t
where exists (
    select 1
    from unnest(string_split(coalesce(t.tax_codes, ''), '|')) as s(code)
    where trim(s.code) <> '' and trim(s.code) not in (select tax_code from raw.catalog_taxes)
)
