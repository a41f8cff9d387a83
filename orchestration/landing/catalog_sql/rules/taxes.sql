-- The rules of taxes.csv (docs/inputs.md).

-- rule: rate must be a decimal percent between 0 and 100
-- column: rate
select line_number
from raw.catalog_taxes
where not (rate is null or try_cast(rate as decimal(38, 9)) is not null)
    or try_cast(rate as decimal(38, 9)) not between 0 and 100

-- rule: applied_by_default must be true or false
-- column: applied_by_default
select line_number
from raw.catalog_taxes
where not (applied_by_default is null or lower(applied_by_default) in ('true', 'false'))

-- rule: tax_code is defined twice
select line_number
from raw.catalog_taxes
qualify count(*) over (partition by tax_code) > 1
