{{ config(tags=['usage']) }}
{#- The amount of each current bucket for its units to date: the close's charge models
    (macros/rating.sql). -#}
{{ charges_priced(
    'select * from ' ~ ref('int_usage_charges_aggregated'),
    'select * from ' ~ ref('int_usage_billing_charges'),
    ref('int_usage_charge_events_bucketed'),
    charges=ref('stg_catalog__charges'),
    charge_filters=ref('stg_catalog__charge_filters'),
    charge_tiers=ref('stg_catalog__charge_tiers')
) }}
