{#-
    Invoice lines (Lago's fees) of the close window, one model per kind of line, each rounded once
    to its currency's exponent, with the taxes that apply to it (§11 precedence: charge, then plan,
    then customer, then the billing entity's defaults):
    - int_invoice_lines__subscription_fees: subscription fees (docs/rules.md §9);
    - int_invoice_lines__charge_fees: charge fees per bucket (§4, §1.10, §1.11), with the billing-day
      fees of recurring pay-in-advance charges (§7);
    - int_invoice_lines__spending_minimums: spending-minimum true-ups (§5);
    - int_invoice_lines__pay_in_advance_fees: pay-in-advance fees, one per event (§7);
    - int_invoice_lines__minimum_commitments: minimum-commitment true-ups (§6);
    - int_invoice_lines__progressive_billing: the lines of progressive-billing invoices (§14).
    They are ephemeral, compiled into this model's one query: the close runs one node for them all.
    The last two read the lines issued so far (int_invoice_lines__issued_so_far), which include
    this model's rows of earlier closes.
-#}
with

lines as (
    select * from {{ ref('int_invoice_lines__subscription_fees') }}
    union all
    select * from {{ ref('int_invoice_lines__charge_fees') }}
    union all
    select * from {{ ref('int_invoice_lines__spending_minimums') }}
    union all
    select * from {{ ref('int_invoice_lines__pay_in_advance_fees') }}
    union all
    select * from {{ ref('int_invoice_lines__minimum_commitments') }}
    union all
    select * from {{ ref('int_invoice_lines__progressive_billing') }}
),

customers as (
    select external_customer_id, tax_codes
    from {{ ref('int_customers_deduplicated') }}
),

currencies as (
    select currency, exponent from {{ ref('stg_reference__currencies') }}
),

default_taxes as (
    select {{ string_agg_sorted('tax_code', "'|'") }} as tax_codes
    from {{ ref('stg_catalog__taxes') }}
    where is_applied_by_default
)

select
    {{ hash_key([
        'lines.subscription_billing_id', 'lines.line_type', 'lines.charge_code', 'lines.filter_code',
        'lines.pricing_group', 'lines.external_subscription_id', 'lines.transaction_id', 'lines.invoice_id',
    ]) }} as invoice_line_id,
    lines.invoice_id,
    case
        when lines.transaction_id is not null then 'pay_in_advance'
        when lines.subscription_billing_id is null then 'progressive_billing'
        else 'subscription'
    end as invoice_type,
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
    coalesce(
        nullif(lines.charge_tax_codes, ''),
        nullif(lines.plan_tax_codes, ''),
        nullif(customers.tax_codes, ''),
        nullif(default_taxes.tax_codes, '')
    ) as tax_codes,
    currencies.exponent as currency_exponent,
    {{ as_decimal('lines.units') }} as units,
    lines.events_count,
    {{ as_decimal(
        "case when lines.units = 0 then 0 else " ~ divide_exact('lines.precise_amount', 'lines.units') ~ " end"
    ) }} as unit_amount,
    {{ as_decimal('lines.precise_amount') }} as precise_amount,
    {{ round_to_exponent('lines.precise_amount', 'currencies.exponent') }} as amount,
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
inner join currencies on lines.currency = currencies.currency
left join customers on lines.external_customer_id = customers.external_customer_id
cross join default_taxes
