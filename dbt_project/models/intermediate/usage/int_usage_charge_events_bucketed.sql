{{ config(tags=['usage']) }}
{#- The events of each current period up to the usage instant, in their buckets: the close's
    bucketing (macros/rating.sql) over int_usage_billing_charges. -#}
{{ charge_events_bucketed(
    'select * from ' ~ ref('int_usage_billing_charges'),
    events=ref('stg_landing__events'),
    filter_conditions=ref('int_charge_filter_conditions'),
    filter_children=ref('int_charge_filter_children'),
    charge_filters=ref('stg_catalog__charge_filters'),
    pricing_group_keys=ref('int_pricing_group_keys'),
    events_until='(select as_of_at from ' ~ ref('int_usage_instant') ~ ')'
) }}
