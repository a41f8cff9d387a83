{#- Tier bands (rule book §1.3) leave no gap and do not overlap: within a tier set, each band
    starts where the previous one ends (adjacent convention) or one unit after it (inclusive),
    one convention per set; only the last band may be unbounded; the first starts at 0. -#}
{% test tiers_are_contiguous(model, set_columns, lower_bound_column, upper_bound_column) %}
with

bands as (
    select
        {{ set_columns | join(', ') }},
        {{ lower_bound_column }} as lower_bound,
        {{ upper_bound_column }} as upper_bound,
        row_number() over tier_set as band_rank,
        count(*) over (partition by {{ set_columns | join(', ') }}) as band_count,
        lag({{ upper_bound_column }}) over tier_set as previous_upper_bound
    from {{ model }}
    window tier_set as (partition by {{ set_columns | join(', ') }} order by {{ lower_bound_column }})
),

conventions as (
    select
        *,
        min(case when band_rank = 1 or lower_bound = previous_upper_bound then 1 else 0 end)
            over (partition by {{ set_columns | join(', ') }}) = 1 and band_count > 1 as is_adjacent
    from bands
)

select *
from conventions
where
    (band_rank = 1 and lower_bound <> 0)
    or (upper_bound is null and band_rank < band_count)
    or (upper_bound is not null and band_rank = band_count)
    or (band_rank > 1 and is_adjacent and lower_bound <> previous_upper_bound)
    or (band_rank > 1 and not is_adjacent and lower_bound <> previous_upper_bound + 1)
{% endtest %}
