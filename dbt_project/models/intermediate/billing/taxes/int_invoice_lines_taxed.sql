{#- Invoice lines with their coupons and their own tax (docs/rules.md §11, fee level): the rounded
    sum of their precise taxes, and the sum of the rates that apply. Wallet purchases join them
    here as the one `credit` line of their `credit` invoice (§15): an advance payment, so never
    discounted nor taxed. -#}
with

lines as (
    select *
    from {{ ref('int_invoice_lines_adjusted') }}
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
),

line_coupons as (
    select invoice_line_id, {{ as_decimal('sum(precise_coupon_amount)') }} as precise_coupons_amount
    from {{ ref('int_invoice_coupons_applied') }}
    where billing_month >= {{ billing_period_start() }} and billing_month < {{ billing_period_end() }}
    group by invoice_line_id
)
,

top_ups as (
    select *
    from {{ ref('int_wallet_transactions_validated') }}
    where transaction_type = 'purchased' and rejection_reason is null
        and {{ trunc_date('month', 'issuing_date') }} >= {{ billing_period_start() }}
        and {{ trunc_date('month', 'issuing_date') }} < {{ billing_period_end() }}
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
    coalesce(line_coupons.precise_coupons_amount, {{ as_decimal('0') }}) as precise_coupons_amount,
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
    lines.invoice_period_end,
    cast(null as varchar) as wallet_code,
    lines.restated_invoice_line_id
from lines
left join line_taxes on lines.invoice_line_id = line_taxes.invoice_line_id
left join line_coupons on lines.invoice_line_id = line_coupons.invoice_line_id
union all
select
    {{ hash_key(['wallet_transaction_id', "'credit'"]) }} as invoice_line_id,
    {{ hash_key(['wallet_transaction_id']) }} as invoice_id,
    'credit' as invoice_type,
    cast(null as varchar) as subscription_billing_id,
    external_customer_id,
    cast(null as varchar) as external_subscription_id,
    cast(null as varchar) as plan_code,
    'credit' as line_type,
    cast(null as varchar) as charge_code,
    cast(null as varchar) as metric_code,
    cast(null as varchar) as filter_code,
    cast(null as varchar) as pricing_group,
    'Prepaid credits (' || wallet_code || ')' as description,
    currency,
    cast(null as varchar) as tax_codes,
    credits as units,
    cast(0 as bigint) as events_count,
    {{ as_decimal('rate_amount') }} as unit_amount,
    {{ multiply_exact('credits', 'rate_amount') }} as precise_amount,
    amount,
    {{ as_decimal('0') }} as precise_coupons_amount,
    {{ as_decimal('0') }} as taxes_rate,
    {{ as_decimal('0') }} as precise_taxes_amount,
    {{ as_money('0') }} as taxes_amount,
    {{ trunc_date('month', 'issuing_date') }} as billing_month,
    issuing_date,
    created_at as from_datetime,
    created_at as to_datetime_exclusive,
    cast(null as timestamp) as first_event_at,
    cast(null as timestamp) as last_event_at,
    cast(null as varchar) as transaction_id,
    issuing_date as invoice_period_start,
    issuing_date as invoice_period_end,
    wallet_code,
    cast(null as varchar) as restated_invoice_line_id
from top_ups
