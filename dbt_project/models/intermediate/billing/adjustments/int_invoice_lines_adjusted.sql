{#- The invoice lines of the close window as billed: the drafted fees, and the adjustment lines
    that bill what late data added to finalized invoices (docs/conventions.md, int_invoice_restatements).
    An adjustment is a fee of the invoice it lands on: that invoice's coupons and taxes apply.
    Spend cap lines (docs/rules.md §12b, int_invoice_spend_caps_applied) join them here, before
    coupons and taxes. -#}
with

drafted as (
    select *, cast(null as varchar) as restated_invoice_line_id
    from {{ ref('int_invoice_lines_drafted') }}
    where billing_month >= {{ billing_period_start() }} and billing_month < {{ billing_period_end() }}
),

adjustments as (
    select
        {{ hash_key(['restatements.invoice_line_id', "'adjustment'", 'restatements.settlement_month']) }}
            as invoice_line_id,
        restatements.adjustment_invoice_id as invoice_id,
        restatements.adjustment_invoice_type as invoice_type,
        cast(null as varchar) as subscription_billing_id,
        restatements.external_customer_id,
        restatements.external_subscription_id,
        restatements.plan_code,
        'adjustment' as line_type,
        restatements.charge_code,
        restatements.metric_code,
        restatements.filter_code,
        restatements.pricing_group,
        'Adjustment to ' || coalesce(restatements.invoice_number, 'an unissued invoice') || ': '
        || restatements.description as description,
        restatements.currency,
        restatements.tax_codes,
        restatements.currency_exponent,
        {{ as_decimal('restatements.restated_units - restatements.finalized_units') }} as units,
        restatements.restated_events_count - restatements.finalized_events_count as events_count,
        {{ as_decimal('0') }} as unit_amount,
        {{ as_decimal('restatements.outstanding_amount') }} as precise_amount,
        {{ as_money('restatements.outstanding_amount') }} as amount,
        restatements.settlement_month as billing_month,
        restatements.adjustment_issuing_date as issuing_date,
        restatements.from_datetime,
        restatements.to_datetime_exclusive,
        restatements.first_event_at,
        restatements.last_event_at,
        cast(null as varchar) as transaction_id,
        restatements.adjustment_period_start as invoice_period_start,
        restatements.adjustment_period_end as invoice_period_end,
        restatements.invoice_line_id as restated_invoice_line_id
    from {{ ref('int_invoice_restatements') }} as restatements
    where restatements.outstanding_amount > 0
        and restatements.settlement_month >= {{ billing_period_start() }}
        and restatements.settlement_month < {{ billing_period_end() }}
)

select * from drafted
union all
select * from adjustments
union all
select * from {{ ref('int_invoice_spend_caps_applied') }}
where billing_month >= {{ billing_period_start() }} and billing_month < {{ billing_period_end() }}
