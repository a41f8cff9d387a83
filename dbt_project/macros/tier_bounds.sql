{#-
    The tier bounds Meterhouse accepts (docs/rules.md §1.3), stated once: the catalog check
    (orchestration/landing/catalog_sql/, read through orchestration/sql_macros.py as plain SQL, so
    these bodies hold no Jinja) and the dbt test `tiers_are_contiguous` both use them. Each
    predicate is true for a tier that breaks its rule, on a row with `tier_rank`, `tier_count`
    (within the tier set, ordered by from_value), `from_value`, `to_value` and `previous_to_value`.
    The catalog check and the model stg_catalog__charge_tiers compute those columns with the same
    two macros, tier_positions and tier_set_window.

    Lago's validator (range bounds: each from_value equals the previous to_value or that plus 1,
    starting from 0; only the last tier unbounded; a bounded tier ends above its start) accepts
    sets that mix the adjacent and the inclusive joins, such as 0-0.01, 0.01-10, 11-∞. So does
    Meterhouse; it prices such a set as Lago does (the inclusive convention, as any set that is
    not adjacent throughout). It refuses only gaps and overlaps, and a tier ending before it starts.
-#}
{#- A tier's place in its set (one charge_code, filter_code and valid_from): select-list columns
    tier_rank, tier_count and previous_to_value, over the window tier_set_window names. -#}
{% macro tier_positions() -%}
row_number() over tier_set as tier_rank,
count(*) over (partition by charge_code, filter_code, valid_from) as tier_count,
lag(to_value) over tier_set as previous_to_value
{%- endmacro %}

{#- The window clause of tier_positions: a tier set in from_value order, file order on a tie. -#}
{% macro tier_set_window() -%}
window tier_set as (partition by charge_code, filter_code, valid_from order by from_value, line_number)
{%- endmacro %}

{% macro tier_starts_elsewhere() -%}
(tier_rank = 1 and from_value <> 0 and from_value <> 1)
{%- endmacro %}

{% macro tier_ends_before_its_start() -%}
(to_value is not null and (to_value < from_value or (to_value = from_value and tier_rank > 1 and from_value = previous_to_value)))
{%- endmacro %}

{% macro tier_unbounded_before_last() -%}
(to_value is null and tier_rank < tier_count)
{%- endmacro %}

{% macro tier_bounded_last() -%}
(to_value is not null and tier_rank = tier_count)
{%- endmacro %}

{% macro tier_leaves_gap_or_overlap() -%}
(tier_rank > 1 and from_value <> previous_to_value and from_value <> previous_to_value + 1)
{%- endmacro %}
