{#- Invoice lines with their own tax (rule book §11, fee level): the rounded sum of their precise
    taxes, and the sum of the rates that apply. -#}
with

lines as (
    select *
    from {{ ref('int_invoice_lines_drafted') }}
    where billing_month >= {{ billing_period_start() }} and billing_month < {{ billing_period_end() }}
),

line_taxes as (
    select
        invoice_line_id,
        {{ as_decimal('sum(tax_rate)') }} as taxes_rate,
        {{ as_decimal('sum(precise_tax_amount)') }} as precise_taxes_amount
    from {{ ref('int_invoice_line_taxes_drafted') }}
    where billing_month >= {{ billing_period_start() }} and billing_month < {{ billing_period_end() }}
    group by invoice_line_id
)

select
    lines.invoice_line_id,
    lines.invoice_id,
    lines.invoice_type,
    lines.subscription_billing_id,
    lines.external_customer_id,
    lines.external_subscription_id,
    lines.plan_code,
    lines.line_type,
    lines.charge_code,
    lines.metric_code,
    lines.filter_code,
    lines.pricing_group,
    lines.description,
    lines.currency,
    lines.tax_codes,
    lines.units,
    lines.events_count,
    lines.unit_amount,
    lines.precise_amount,
    lines.amount,
    {{ as_decimal('0') }} as precise_coupons_amount,
    coalesce(line_taxes.taxes_rate, {{ as_decimal('0') }}) as taxes_rate,
    coalesce(line_taxes.precise_taxes_amount, {{ as_decimal('0') }}) as precise_taxes_amount,
    {{ round_to_exponent('coalesce(line_taxes.precise_taxes_amount, 0)', 'lines.currency_exponent') }}
        as taxes_amount,
    lines.billing_month,
    lines.issuing_date,
    lines.from_datetime,
    lines.to_datetime_exclusive,
    lines.first_event_at,
    lines.last_event_at,
    lines.transaction_id,
    lines.invoice_period_start,
    lines.invoice_period_end
from lines
left join line_taxes on lines.invoice_line_id = line_taxes.invoice_line_id
