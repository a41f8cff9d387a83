{#- The events behind each in-arrears charge of the close window, in their buckets (macros/rating.sql). -#}
{{ charge_events_bucketed(
    'select * from ' ~ ref('int_subscription_billing_charges')
    ~ ' where billing_month >= ' ~ billing_period_start() ~ ' and billing_month < ' ~ billing_period_end(),
    events=ref('stg_landing__events'),
    filter_conditions=ref('int_charge_filter_conditions'),
    filter_children=ref('int_charge_filter_children'),
    charge_filters=ref('stg_catalog__charge_filters'),
    pricing_group_keys=ref('int_pricing_group_keys')
) }}
