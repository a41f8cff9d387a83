{#- The amount of each charge bucket of the close window for its units (macros/rating.sql). -#}
{%- set window = ' where billing_month >= ' ~ billing_period_start() ~ ' and billing_month < ' ~ billing_period_end() -%}
{{ charges_priced(
    'select * from ' ~ ref('int_usage_aggregated_to_charge_period') ~ window,
    'select * from ' ~ ref('int_subscription_billing_charges') ~ window,
    '(select * from ' ~ ref('int_charge_events_bucketed') ~ window ~ ')',
    charges=ref('stg_catalog__charges'),
    charge_filters=ref('stg_catalog__charge_filters'),
    charge_tiers=ref('stg_catalog__charge_tiers')
) }}
