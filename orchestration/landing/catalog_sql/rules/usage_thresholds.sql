-- The rules of usage_thresholds.csv (docs/inputs.md, docs/rules.md §14).

-- rule: plan_code must name a plan of plans.csv
select line_number
from raw.catalog_usage_thresholds
where plan_code not in (select plan_code from raw.catalog_plans)

-- rule: amount must be a decimal above 0
-- column: amount
select line_number
from raw.catalog_usage_thresholds
where not (amount is null or try_cast(amount as decimal(38, 9)) is not null)
    or try_cast(amount as decimal(38, 9)) <= 0

-- rule: recurring must be true or false
-- column: recurring
select line_number
from raw.catalog_usage_thresholds
where not (recurring is null or lower(recurring) in ('true', 'false'))

-- rule: a plan has this threshold amount twice
select line_number
from raw.catalog_usage_thresholds
where (amount is null or try_cast(amount as decimal(38, 9)) is not null)
qualify count(*) over (
    partition by
        plan_code,
        try_cast(amount as decimal(38, 9)),
        coalesce(lower(recurring) = 'true', false)
) > 1

-- rule: a plan has at most one recurring threshold (docs/rules.md §14)
select line_number
from raw.catalog_usage_thresholds
where coalesce(lower(recurring) = 'true', false)
qualify count(*) over (partition by plan_code) > 1

-- Catalog features whose billing rules are not built yet: refused rather than mispriced.

-- rule: progressive billing is supported on plans whose in-arrears charges are standard, package,
--   graduated or volume on a count or sum metric that is not recurring, without proration; this
--   plan has another charge (issue #4)
select line_number
from raw.catalog_usage_thresholds
where plan_code in (
    select charges.plan_code
    from raw.catalog_charges as charges
    left join raw.catalog_billable_metrics as metrics using (metric_code)
    where not coalesce(lower(charges.pay_in_advance) = 'true', false)
        and (
            charges.charge_model not in ('standard', 'package', 'graduated', 'volume')
            or metrics.aggregation not in ('count', 'sum')
            or coalesce(lower(metrics.recurring) = 'true', false)
            or coalesce(lower(charges.prorated) = 'true', false)
        )
)
