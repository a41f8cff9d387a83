{{ config(materialized='ephemeral') }}

{#
    Charge fee lines of the close window, one per bucket (docs/rules.md §4, §1.10, §1.11): each
    billing's priced charges, and the billing-day fees of recurring pay-in-advance charges (§7),
    in the columns of every kind of line int_invoice_lines_drafted unions.
-#}
with

billings as (
    select * from {{ ref('int_invoice_lines__billings') }}
),

priced_charges as (
    select *
    from {{ ref('int_charges_priced') }}
    where billing_month >= {{ billing_period_start() }} and billing_month < {{ billing_period_end() }}
),

{# Each priced charge's own window and versions: the billing's, or for a recurring pay-in-advance
    charge's billing-day fee the period that starts on the issuing day (§7). -#}
charge_windows as (
    select
        subscription_billing_id, charge_code, charges_from_at, charges_to_at, is_billing_day_fee,
        charges_period_start as version_day
    from {{ ref('int_subscription_billing_charges') }}
    where billing_month >= {{ billing_period_start() }} and billing_month < {{ billing_period_end() }}
),

plans as (
    select plan_code, tax_codes, valid_from, valid_to
    from {{ ref('stg_catalog__plans') }}
),

charges as (
    select charge_code, tax_codes, is_invoiceable, valid_from, valid_to
    from {{ ref('stg_catalog__charges') }}
),

metrics as (
    select metric_code, metric_name, valid_from, valid_to
    from {{ ref('stg_catalog__billable_metrics') }}
),

charge_fees as (
    select
        billings.subscription_billing_id,
        -- A billing-day fee of a charge that is not invoiceable has no invoice (docs/conventions.md).
        case when charge_windows.is_billing_day_fee and not charges.is_invoiceable then null
            else billings.invoice_id
        end as invoice_id,
        billings.billing_month,
        billings.issuing_date,
        billings.external_customer_id,
        billings.external_subscription_id,
        billings.plan_code,
        billings.currency,
        'charge' as line_type,
        priced_charges.charge_code,
        priced_charges.metric_code,
        nullif(priced_charges.filter_code, '') as filter_code,
        priced_charges.pricing_group,
        metrics.metric_name
        || case when priced_charges.filter_code <> '' then ' · ' || priced_charges.filter_code else '' end
        || coalesce(' · ' || priced_charges.pricing_group, '') as description,
        charges.tax_codes as charge_tax_codes,
        plans.tax_codes as plan_tax_codes,
        -- §4: negative units or amounts give a zero fee.
        case when priced_charges.units < 0 or priced_charges.amount < 0 then 0
            else priced_charges.units
        end as units,
        priced_charges.events_count,
        case when priced_charges.units < 0 or priced_charges.amount < 0 then 0
            else priced_charges.amount
        end as precise_amount,
        charge_windows.charges_from_at as from_datetime,
        charge_windows.charges_to_at as to_datetime_exclusive,
        priced_charges.first_event_at,
        priced_charges.last_event_at,
        cast(null as varchar) as transaction_id,
        billings.invoice_period_start,
        billings.invoice_period_end
    from priced_charges
    inner join billings on priced_charges.subscription_billing_id = billings.subscription_billing_id
    inner join charge_windows
        on priced_charges.subscription_billing_id = charge_windows.subscription_billing_id
        and priced_charges.charge_code = charge_windows.charge_code
    -- The versions that priced the line (a billing-day fee's are the new period's, §7).
    inner join charges
        on priced_charges.charge_code = charges.charge_code
        and charge_windows.version_day >= charges.valid_from
        and charge_windows.version_day < charges.valid_to
    inner join metrics
        on priced_charges.metric_code = metrics.metric_code
        and charge_windows.version_day >= metrics.valid_from
        and charge_windows.version_day < metrics.valid_to
    inner join plans
        on billings.plan_code = plans.plan_code
        and billings.charges_period_start >= plans.valid_from
        and billings.charges_period_start < plans.valid_to
    -- §4: a fee with no units, no amount and no events is not kept.
    where not (priced_charges.units = 0 and priced_charges.amount = 0 and priced_charges.events_count = 0)
)

select * from charge_fees
