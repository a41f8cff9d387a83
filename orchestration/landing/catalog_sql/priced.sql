-- What prices each row of charges.csv and charge_filters.csv, read by the rules of
-- rules/charge_properties.sql: the row with its charge_model and a filter_code (NULL for a
-- charge's own properties).
create or replace temp view priced_charges as
select *, cast(null as varchar) as filter_code from raw.catalog_charges;

create or replace temp view priced_charge_filters as
select f.*, fc.charge_model
from raw.catalog_charge_filters as f
inner join filter_charges as fc on fc.line_number = f.line_number
