{{ config(tags=['usage']) }}
{#- The events of each current period up to the usage instant, in their buckets: the close's
    bucketing (macros/rating.sql) over int_usage_billing_charges. -#}
{{ charge_events_bucketed(
    'select * from ' ~ ref('int_usage_billing_charges'),
    events_until='(select as_of_at from ' ~ ref('int_usage_instant') ~ ')'
) }}
