{#- Units per scheduled billing, charge and bucket of the close window (macros/rating.sql). -#}
{{ charge_units_aggregated(
    'select * from ' ~ ref('int_subscription_billing_charges')
    ~ ' where billing_month >= ' ~ billing_period_start() ~ ' and billing_month < ' ~ billing_period_end(),
    '(select * from ' ~ ref('int_charge_events_bucketed')
    ~ ' where billing_month >= ' ~ billing_period_start() ~ ' and billing_month < ' ~ billing_period_end() ~ ')',
    charge_filters=ref('stg_catalog__charge_filters'),
    pricing_group_keys=ref('int_pricing_group_keys')
) }}
