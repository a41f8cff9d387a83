-- The rules of coupons.csv (docs/inputs.md, docs/rules.md §13).

-- rule: coupon_type must be fixed_amount or percentage
-- column: coupon_type
select line_number
from raw.catalog_coupons
where coupon_type not in ('fixed_amount', 'percentage')

-- rule: frequency must be once, recurring or forever
-- column: frequency
select line_number
from raw.catalog_coupons
where frequency not in ('once', 'recurring', 'forever')

-- rule: a fixed_amount coupon needs an amount above 0
-- column: amount
select line_number
from raw.catalog_coupons
where coupon_type = 'fixed_amount'
    and (
        not (amount is null or try_cast(amount as decimal(38, 9)) is not null)
        or coalesce(try_cast(amount as decimal(38, 9)), 0) <= 0
    )

-- rule: a fixed_amount coupon needs a currency shipped in seeds/reference/currencies.csv
-- column: currency
select line_number
from raw.catalog_coupons
where coupon_type = 'fixed_amount'
    and upper(coalesce(currency, '')) not in (select currency from catalog_currencies)

-- rule: a percentage coupon needs a percentage_rate above 0 and at most 100
select line_number
from raw.catalog_coupons
where coupon_type = 'percentage'
    and (
        not (percentage_rate is null or try_cast(percentage_rate as decimal(38, 9)) is not null)
        or coalesce(try_cast(percentage_rate as decimal(38, 9)), 0) <= 0
        or try_cast(percentage_rate as decimal(38, 9)) > 100
    )

-- rule: a recurring coupon needs a whole frequency_duration of at least 1 (invoices)
select line_number
from raw.catalog_coupons
where frequency = 'recurring'
    and (
        not (
            frequency_duration is null
            or try_cast(frequency_duration as decimal(38, 9))
            = floor(try_cast(frequency_duration as decimal(38, 9)))
        )
        or coalesce(try_cast(frequency_duration as decimal(38, 9)), 0) < 1
    )

-- rule: expires_at must be an ISO 8601 date or timestamp
select line_number
from raw.catalog_coupons
where expires_at is not null
    and try_cast(expires_at as timestamp) is null

-- rule: a coupon is limited to plans or to metrics, not both (docs/rules.md §13)
select line_number
from raw.catalog_coupons
where nullif(trim(plan_codes), '') is not null
    and nullif(trim(metric_codes), '') is not null

-- rule: plan_codes must name plans of plans.csv
select line_number
from raw.catalog_coupons as t
where exists (
    select 1
    from unnest(string_split(coalesce(t.plan_codes, ''), '|')) as s(code)
    where trim(s.code) <> '' and trim(s.code) not in (select plan_code from raw.catalog_plans)
)

-- rule: metric_codes must name metrics of billable_metrics.csv
select line_number
from raw.catalog_coupons as t
where exists (
    select 1
    from unnest(string_split(coalesce(t.metric_codes, ''), '|')) as s(code)
    where trim(s.code) <> ''
        and trim(s.code) not in (select metric_code from raw.catalog_billable_metrics)
)

-- rule: coupon_code is defined twice
select line_number
from raw.catalog_coupons
qualify count(*) over (partition by coupon_code) > 1
