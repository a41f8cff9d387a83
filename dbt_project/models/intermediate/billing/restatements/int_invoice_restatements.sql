{#- Not period-scoped: rebuilt whole at every close from the lines of all finalized months. -#}
{{ config(materialized='table') }}
{#
    Late data after finalization (docs/conventions.md): every line of a finalized month compared with
    what the month's latest close computes now (int_invoice_lines_drafted keeps each month's
    latest computation), and what is left to bill or credit after the documents that already
    settled it (macros/restatements.sql).

    Fees are compared after rounding (`amount`), before coupons, taxes and credits: an
    adjustment is billed, or a `restatement` credit note issued, in the last month of the close
    window when that month is not finalized; otherwise the difference waits for the next close.
    Progressive-billing invoices are left out: the period-end invoice that they precede holds
    the whole period's fees, so comparing it alone counts each late event once.

    Frozen tables are read as earlier state through the `ledger` source (macros/frozen_state.sql),
    not through ref(): the close drafts from them while finalization appends to them.
-#}
{%- set frozen_invoices = frozen_relation(source('ledger', 'finalized_invoices')) -%}
{%- set frozen_lines = frozen_relation(source('ledger', 'finalized_invoice_lines')) -%}
{%- set frozen_items = frozen_relation(source('ledger', 'finalized_credit_note_items')) -%}
with

{% if frozen_invoices and frozen_lines and frozen_items %}
finalized_invoices as (
    select invoice_id, invoice_number, billing_month
    from {{ frozen_invoices }}
    where invoice_type in ('subscription', 'pay_in_advance')
),

finalized_months as (
    select distinct billing_month from {{ frozen_invoices }}
),

finalized_lines as (
    select *
    from {{ frozen_lines }}
    -- Spend cap lines (docs/rules.md §12b) are not drafted lines: late data is restated uncapped.
    where invoice_id in (select invoice_id from finalized_invoices)
        and line_type not in ('adjustment', 'spend_cap')
),

settlements as (
    select invoice_line_id, sum(settled_amount) as settled_amount
    from ({{ restatement_settlements(frozen_lines, frozen_items) }}) as settled
    group by invoice_line_id
),
{% else %}
finalized_invoices as (
    select
        cast(null as varchar) as invoice_id, cast(null as varchar) as invoice_number,
        cast(null as date) as billing_month
    where false
),

finalized_months as (
    select billing_month from finalized_invoices
),

finalized_lines as (
    select * from {{ ref('int_invoice_lines_drafted') }}
    where false
),

settlements as (
    select cast(null as varchar) as invoice_line_id, {{ as_money('0') }} as settled_amount
    where false
),
{% endif %}

restated_lines as (
    select *
    from {{ ref('int_invoice_lines_drafted') }}
    where billing_month in (select billing_month from finalized_months)
        and invoice_type in ('subscription', 'pay_in_advance')
        and invoice_id is not null
),

compared as (
    select
        coalesce(finalized_lines.invoice_line_id, restated_lines.invoice_line_id) as invoice_line_id,
        coalesce(finalized_lines.invoice_id, restated_lines.invoice_id) as invoice_id,
        coalesce(finalized_lines.billing_month, restated_lines.billing_month) as billing_month,
        coalesce(finalized_lines.external_customer_id, restated_lines.external_customer_id)
            as external_customer_id,
        coalesce(finalized_lines.external_subscription_id, restated_lines.external_subscription_id)
            as external_subscription_id,
        coalesce(finalized_lines.plan_code, restated_lines.plan_code) as plan_code,
        coalesce(finalized_lines.line_type, restated_lines.line_type) as line_type,
        coalesce(finalized_lines.charge_code, restated_lines.charge_code) as charge_code,
        coalesce(finalized_lines.metric_code, restated_lines.metric_code) as metric_code,
        coalesce(finalized_lines.filter_code, restated_lines.filter_code) as filter_code,
        coalesce(finalized_lines.pricing_group, restated_lines.pricing_group) as pricing_group,
        coalesce(finalized_lines.description, restated_lines.description) as description,
        coalesce(finalized_lines.currency, restated_lines.currency) as currency,
        -- The taxes of the restated line, as an adjustment bills the line over again.
        coalesce(restated_lines.tax_codes, finalized_lines.tax_codes) as tax_codes,
        coalesce(restated_lines.from_datetime, finalized_lines.from_datetime) as from_datetime,
        coalesce(restated_lines.to_datetime_exclusive, finalized_lines.to_datetime_exclusive)
            as to_datetime_exclusive,
        coalesce(restated_lines.first_event_at, finalized_lines.first_event_at) as first_event_at,
        coalesce(restated_lines.last_event_at, finalized_lines.last_event_at) as last_event_at,
        {{ as_decimal('coalesce(finalized_lines.units, 0)') }} as finalized_units,
        {{ as_decimal('coalesce(restated_lines.units, 0)') }} as restated_units,
        coalesce(finalized_lines.events_count, 0) as finalized_events_count,
        coalesce(restated_lines.events_count, 0) as restated_events_count,
        {{ as_money('coalesce(finalized_lines.amount, 0)') }} as finalized_amount,
        {{ as_money('coalesce(restated_lines.amount, 0)') }} as restated_amount
    from finalized_lines
    full outer join restated_lines on finalized_lines.invoice_line_id = restated_lines.invoice_line_id
    -- A finalized month that was never computed again reads as unchanged.
    where restated_lines.invoice_line_id is not null
        or finalized_lines.billing_month in (
            select billing_month from {{ ref('int_invoice_lines_drafted') }}
        )
),

restatements as (
    select
        compared.*,
        {{ as_money('coalesce(settlements.settled_amount, 0)') }} as settled_amount,
        {{ as_money('compared.restated_amount - compared.finalized_amount - coalesce(settlements.settled_amount, 0)') }}
            as outstanding_amount
    from compared
    left join settlements on compared.invoice_line_id = settlements.invoice_line_id
    where compared.finalized_amount <> compared.restated_amount
        or compared.finalized_units <> compared.restated_units
        or compared.finalized_events_count <> compared.restated_events_count
        or settlements.settled_amount is not null
),

{# Where the difference is settled: the last month of the close window, unless finalized. -#}
settlement_months as (
    select {{ add_months(billing_period_end(), -1) }} as settlement_month
    where {{ add_months(billing_period_end(), -1) }} not in (select billing_month from finalized_months)
),

{# An adjustment joins the customer's first subscription invoice of that month in its currency,
    or else an invoice of its own, issued the day after the month like period-end invoices. -#}
next_invoices as (
    select *
    from (
        select
            invoice_id, invoice_type, external_customer_id, currency, issuing_date,
            invoice_period_start, invoice_period_end,
            row_number() over (
                partition by external_customer_id, currency order by issuing_date, invoice_id
            ) as invoice_rank
        from {{ ref('int_invoice_lines_drafted') }}
        where billing_month in (select settlement_month from settlement_months)
            and invoice_type = 'subscription'
    ) as ranked
    where invoice_rank = 1
),

currencies as (
    select currency, exponent from {{ ref('stg_reference__currencies') }}
)

select
    restatements.invoice_line_id,
    restatements.invoice_id,
    finalized_invoices.invoice_number,
    restatements.billing_month,
    restatements.external_customer_id,
    restatements.external_subscription_id,
    restatements.plan_code,
    restatements.line_type,
    restatements.charge_code,
    restatements.metric_code,
    restatements.filter_code,
    restatements.pricing_group,
    restatements.description,
    restatements.currency,
    currencies.exponent as currency_exponent,
    restatements.tax_codes,
    restatements.from_datetime,
    restatements.to_datetime_exclusive,
    restatements.first_event_at,
    restatements.last_event_at,
    restatements.finalized_units,
    restatements.restated_units,
    restatements.finalized_events_count,
    restatements.restated_events_count,
    restatements.finalized_amount,
    restatements.restated_amount,
    {{ as_money('restatements.restated_amount - restatements.finalized_amount') }} as difference_amount,
    restatements.settled_amount,
    restatements.outstanding_amount,
    case when restatements.outstanding_amount <> 0 then settlement_months.settlement_month end
        as settlement_month,
    case when restatements.outstanding_amount > 0 then
            coalesce(
                next_invoices.invoice_id,
            {{ hash_key(['restatements.external_customer_id', 'restatements.currency',
                'settlement_months.settlement_month', "'one_off'"]) }}
            )
    end as adjustment_invoice_id,
    case when restatements.outstanding_amount > 0 then coalesce(next_invoices.invoice_type, 'one_off') end
        as adjustment_invoice_type,
    coalesce(next_invoices.issuing_date, {{ add_months('settlement_months.settlement_month', 1) }})
        as adjustment_issuing_date,
    coalesce(next_invoices.invoice_period_start, settlement_months.settlement_month) as adjustment_period_start,
    coalesce(
        next_invoices.invoice_period_end,
        {{ add_days(add_months('settlement_months.settlement_month', 1), -1) }}
    ) as adjustment_period_end
from restatements
inner join currencies on restatements.currency = currencies.currency
left join finalized_invoices on restatements.invoice_id = finalized_invoices.invoice_id
cross join (
    select max(settlement_month) as settlement_month from settlement_months
) as settlement_months
left join next_invoices
    on restatements.external_customer_id = next_invoices.external_customer_id
    and restatements.currency = next_invoices.currency
    and restatements.outstanding_amount > 0
