{#- Tier bands (docs/rules.md §1.3) follow the bounds rules of macros/tier_bounds.sql, the ones the
    catalog check applies: no gap, no overlap, only the last band unbounded. -#}
{% test tiers_are_contiguous(model, set_columns, lower_bound_column, upper_bound_column) %}
with

bands as (
    select
        {{ set_columns | join(', ') }},
        {{ lower_bound_column }} as from_value,
        {{ upper_bound_column }} as to_value,
        row_number() over tier_set as tier_rank,
        count(*) over (partition by {{ set_columns | join(', ') }}) as tier_count,
        lag({{ upper_bound_column }}) over tier_set as previous_to_value
    from {{ model }}
    window tier_set as (partition by {{ set_columns | join(', ') }} order by {{ lower_bound_column }})
)

select *
from bands
where
    {{ tier_starts_elsewhere() }}
    or {{ tier_ends_before_its_start() }}
    or {{ tier_unbounded_before_last() }}
    or {{ tier_bounded_last() }}
    or {{ tier_leaves_gap_or_overlap() }}
{% endtest %}
