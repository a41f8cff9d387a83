{{ config(tags=['usage']) }}
{#- The pay-in-advance fees of each current period up to the usage instant, one per event: the
    close's pay-in-advance pricing (macros/rating.sql) over int_usage_periods. -#}
{{ pay_in_advance_fees_priced(
    'select * from ' ~ ref('int_usage_periods'),
    events=ref('stg_landing__events'),
    charges=ref('stg_catalog__charges'),
    billable_metrics=ref('stg_catalog__billable_metrics'),
    charge_filters=ref('stg_catalog__charge_filters'),
    charge_tiers=ref('stg_catalog__charge_tiers'),
    filter_conditions=ref('int_charge_filter_conditions'),
    filter_children=ref('int_charge_filter_children'),
    pricing_group_keys=ref('int_pricing_group_keys'),
    events_until='(select as_of_at from ' ~ ref('int_usage_instant') ~ ')',
    in_close_window=false
) }}
