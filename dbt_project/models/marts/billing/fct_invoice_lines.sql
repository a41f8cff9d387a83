{#- One row per invoice line (Lago's fee), frozen or draft like its invoice. -#}
with

lines as (
    {{ frozen_rows_and_drafts(
        ref('finalized_invoice_lines'), ref('int_invoice_lines_taxed'), ref('finalized_invoices'),
        columns=frozen_invoice_line_columns()
    ) }}
)

select
    invoice_line_id,
    invoice_id,
    external_customer_id,
    external_subscription_id,
    plan_code,
    line_type,
    charge_code,
    metric_code,
    filter_code,
    pricing_group,
    description,
    currency,
    tax_codes,
    units,
    events_count,
    unit_amount,
    precise_amount,
    amount,
    precise_coupons_amount,
    taxes_rate,
    precise_taxes_amount,
    taxes_amount,
    billing_month,
    issuing_date,
    from_datetime,
    to_datetime_exclusive as to_datetime,
    first_event_at,
    last_event_at,
    wallet_code,
    restated_invoice_line_id
from lines
