{{ config(materialized='ephemeral') }}

{#
    The rounded lines of subscription and pay-in-advance invoices issued so far: this close's
    (the subscription-fee, charge-fee, spending-minimum and pay-in-advance lines) and earlier
    closes' (what progressive billing issues is not among them). Minimum commitments (§6) and
    progressive billing (§14) measure what was already billed with them.
-#}
with

fee_lines as (
    select
        external_subscription_id, plan_code, line_type, transaction_id, from_datetime, issuing_date,
        currency, precise_amount
    from {{ ref('int_invoice_lines__subscription_fees') }}
    union all
    select
        external_subscription_id, plan_code, line_type, transaction_id, from_datetime, issuing_date,
        currency, precise_amount
    from {{ ref('int_invoice_lines__charge_fees') }}
    union all
    select
        external_subscription_id, plan_code, line_type, transaction_id, from_datetime, issuing_date,
        currency, precise_amount
    from {{ ref('int_invoice_lines__spending_minimums') }}
    union all
    select
        external_subscription_id, plan_code, line_type, transaction_id, from_datetime, issuing_date,
        currency, precise_amount
    from {{ ref('int_invoice_lines__pay_in_advance_fees') }}
),

currencies as (
    select currency, exponent from {{ ref('stg_reference__currencies') }}
),

{# Earlier closes' lines are int_invoice_lines_drafted's own rows before the window (its
    `{{ this }}`, macros/billing_period.sql), which this model is compiled into. -#}
{%- set drafted_so_far = period_scoped_table_so_far('int_invoice_lines_drafted') %}

issued_lines as (
    select
        external_subscription_id, plan_code, line_type, transaction_id, from_datetime, issuing_date,
        {{ round_to_exponent('precise_amount', 'currencies.exponent') }} as amount
    from fee_lines
    inner join currencies on fee_lines.currency = currencies.currency
    {% if drafted_so_far is not none %}
    union all
    select external_subscription_id, plan_code, line_type, transaction_id, from_datetime, issuing_date, amount
    from {{ drafted_so_far }}
    where billing_month < {{ billing_period_start() }} and invoice_type <> 'progressive_billing'
    {% endif %}
)

select * from issued_lines
