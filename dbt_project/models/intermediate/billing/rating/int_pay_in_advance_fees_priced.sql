{#- Pay-in-advance charge fees of the close window, one per event (macros/rating.sql). -#}
{{ pay_in_advance_fees_priced(
    'select * from ' ~ ref('int_subscription_charges_periods')
    ~ ' where billing_month >= ' ~ billing_period_start() ~ ' and billing_month < ' ~ billing_period_end(),
    events=ref('stg_landing__events'),
    charges=ref('stg_catalog__charges'),
    billable_metrics=ref('stg_catalog__billable_metrics'),
    charge_filters=ref('stg_catalog__charge_filters'),
    charge_tiers=ref('stg_catalog__charge_tiers'),
    filter_conditions=ref('int_charge_filter_conditions'),
    filter_children=ref('int_charge_filter_children'),
    pricing_group_keys=ref('int_pricing_group_keys')
) }}
