{#- The events behind each in-arrears charge of the close window, in their buckets (macros/rating.sql). -#}
{{ charge_events_bucketed(
    'select * from ' ~ ref('int_subscription_billing_charges')
    ~ ' where billing_month >= ' ~ billing_period_start() ~ ' and billing_month < ' ~ billing_period_end()
) }}
