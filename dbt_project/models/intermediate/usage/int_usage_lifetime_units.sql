{{ config(tags=['usage']) }}
{#
    Units since the subscription's start, per charge and bucket (filter, pricing group), of the
    charges `billable_metric_lifetime_usage_units` alerts watch (int_usage_lifetime_charges;
    docs/rules.md §21.1): the close's bucketing and aggregation (macros/rating.sql) over one
    window from the start to the usage instant. So a count or a sum adds up every period, a max
    is the largest value since the start, a unique count counts each value once over the whole
    window. int_alert_values takes the largest bucket of the metric.
-#}
{%- set charges_relation = ref('int_usage_lifetime_charges') -%}
{%- set lifetime_charges = 'select * from ' ~ charges_relation -%}
{# Without a watched charge (no such alert, the usual case) the aggregation is not even planned:
    DuckDB spends about half a second planning it, empty or not. A unit test's fixture (no schema)
    always runs it. -#}
{%- set has_watched_charges = true -%}
{%- if execute and charges_relation.schema is not none and load_relation(charges_relation) is not none -%}
    {%- set has_watched_charges = run_query('select 1 from ' ~ charges_relation ~ ' limit 1').rows | length > 0 -%}
{%- endif -%}
{% if has_watched_charges %}
with

-- Written out once: the aggregation reads it through a recomputed CTE, four times.
lifetime_bucketed as {{ materialized_cte() }} (
    {{ charge_events_bucketed(
        lifetime_charges,
        events=ref('stg_landing__events'),
        filter_conditions=ref('int_charge_filter_conditions'),
        filter_children=ref('int_charge_filter_children'),
        charge_filters=ref('stg_catalog__charge_filters'),
        pricing_group_keys=ref('int_pricing_group_keys'),
        events_until='(select as_of_at from ' ~ ref('int_usage_instant') ~ ')'
    ) }}
),

bucket_units as (
    {{ charge_units_aggregated(
        lifetime_charges,
        'lifetime_bucketed',
        charge_filters=ref('stg_catalog__charge_filters'),
        pricing_group_keys=ref('int_pricing_group_keys')
    ) }}
)

select
    bucket_units.subscription_billing_id,
    charges.external_subscription_id,
    bucket_units.metric_code,
    bucket_units.charge_code,
    bucket_units.filter_code,
    bucket_units.pricing_group,
    bucket_units.aggregation,
    charges.charges_from_at as lifetime_from_at,
    charges.as_of_at,
    bucket_units.events_count,
    bucket_units.units
from bucket_units
inner join {{ ref('int_usage_lifetime_charges') }} as charges
    on bucket_units.subscription_billing_id = charges.subscription_billing_id
    and bucket_units.charge_code = charges.charge_code
{% else %}
select
    cast(null as varchar) as subscription_billing_id,
    cast(null as varchar) as external_subscription_id,
    cast(null as varchar) as metric_code,
    cast(null as varchar) as charge_code,
    cast(null as varchar) as filter_code,
    cast(null as varchar) as pricing_group,
    cast(null as varchar) as aggregation,
    cast(null as timestamp) as lifetime_from_at,
    cast(null as timestamp) as as_of_at,
    cast(null as bigint) as events_count,
    {{ as_decimal('null') }} as units
where 1 = 0
{% endif %}
