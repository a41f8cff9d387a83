{{ config(tags=['usage']) }}
{#- The pay-in-advance fees of each current period up to the usage instant, one per event: the
    close's pay-in-advance pricing (macros/rating.sql) over int_usage_periods. -#}
{{ pay_in_advance_fees_priced(
    'select * from ' ~ ref('int_usage_periods'),
    events_until='(select as_of_at from ' ~ ref('int_usage_instant') ~ ')',
    in_close_window=false
) }}
