{#- Pay-in-advance charge fees of the close window, one per event (macros/rating.sql). -#}
{{ pay_in_advance_fees_priced(
    'select * from ' ~ ref('int_subscription_charges_periods')
    ~ ' where billing_month >= ' ~ billing_period_start() ~ ' and billing_month < ' ~ billing_period_end()
) }}
