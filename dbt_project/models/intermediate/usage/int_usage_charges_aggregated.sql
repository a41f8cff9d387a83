{{ config(tags=['usage']) }}
{#- Units per current period, charge and bucket: the close's aggregation (macros/rating.sql). Every
    bucket of every charge gets a row, with or without events. -#}
{{ charge_units_aggregated(
    'select * from ' ~ ref('int_usage_billing_charges'),
    ref('int_usage_charge_events_bucketed'),
    charge_filters=ref('stg_catalog__charge_filters'),
    pricing_group_keys=ref('int_pricing_group_keys')
) }}
