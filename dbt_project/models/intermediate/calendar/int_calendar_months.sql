{#- One row per month from 1970 to 2199: a portable spine (no generate_series) for the scheduler. -#}
with

digits as (
    select 0 as digit
    union all
    select 1
    union all
    select 2
    union all
    select 3
    union all
    select 4
    union all
    select 5
    union all
    select 6
    union all
    select 7
    union all
    select 8
    union all
    select 9
),

numbers as (
    select ones.digit + 10 * tens.digit + 100 * hundreds.digit + 1000 * thousands.digit as month_index
    from digits as ones
    cross join digits as tens
    cross join digits as hundreds
    cross join digits as thousands
)

select {{ add_months("cast('1970-01-01' as date)", "month_index") }} as month_start
from numbers
where month_index < 2760
