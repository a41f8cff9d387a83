{#-
    Progressive billing credit (docs/rules.md §14), spread over the charge lines it reduces: an
    interim invoice credits what the one before it in the period billed; the invoice that closes
    the period credits what the last one billed. A period is a subscription phase's charges
    window (its plan and first instant); interim invoices of earlier closes count too.

    Like Lago, the credit is taken off the lines before tax: each charge line of the period on
    the invoice carries a share of it in proportion to its amount (precise_credit_amount), and
    its tax is computed on what is left.
-#}
with

charge_lines as (
    select
        invoice_line_id, invoice_id, invoice_type, billing_month, external_subscription_id, plan_code,
        from_datetime, to_datetime_exclusive, amount
    from {{ ref('int_invoice_lines_drafted') }}
    where line_type = 'charge' and transaction_id is null
),

interim_invoices as (
    select
        invoice_id, external_subscription_id, plan_code, from_datetime,
        max(to_datetime_exclusive) as crossed_at,
        sum(amount) as interim_fees_amount
    from charge_lines
    where invoice_type = 'progressive_billing'
    group by invoice_id, external_subscription_id, plan_code, from_datetime
),

interim_credits as (
    select invoice_id, external_subscription_id, plan_code, from_datetime, earlier_fees_amount as credit_amount
    from (
        select
            interim_invoices.*,
            lag(interim_invoices.interim_fees_amount) over (
                partition by
                    interim_invoices.external_subscription_id,
                    interim_invoices.plan_code,
                    interim_invoices.from_datetime
                order by interim_invoices.crossed_at, interim_invoices.invoice_id
            ) as earlier_fees_amount
        from interim_invoices
    ) as ordered
    where earlier_fees_amount is not null
),

last_interims as (
    select *
    from (
        select
            interim_invoices.*,
            row_number() over (
                partition by
                    interim_invoices.external_subscription_id,
                    interim_invoices.plan_code,
                    interim_invoices.from_datetime
                order by interim_invoices.crossed_at desc, interim_invoices.invoice_id desc
            ) as recency_rank
        from interim_invoices
    ) as ranked
    where recency_rank = 1
),

closing_credits as (
    select distinct
        charge_lines.invoice_id, charge_lines.external_subscription_id, charge_lines.plan_code,
        charge_lines.from_datetime, last_interims.interim_fees_amount as credit_amount
    from charge_lines
    inner join last_interims
        on charge_lines.external_subscription_id = last_interims.external_subscription_id
        and charge_lines.plan_code = last_interims.plan_code
        and charge_lines.from_datetime = last_interims.from_datetime
    where charge_lines.invoice_type = 'subscription'
),

period_credits as (
    select * from interim_credits
    union all
    select * from closing_credits
),

credited_lines as (
    select
        charge_lines.invoice_line_id,
        charge_lines.invoice_id,
        charge_lines.billing_month,
        charge_lines.amount,
        period_credits.credit_amount,
        sum(charge_lines.amount) over (
            partition by
                charge_lines.invoice_id, charge_lines.external_subscription_id,
                charge_lines.plan_code, charge_lines.from_datetime
        ) as period_charges_amount
    from charge_lines
    inner join period_credits
        on charge_lines.invoice_id = period_credits.invoice_id
        and charge_lines.external_subscription_id = period_credits.external_subscription_id
        and charge_lines.plan_code = period_credits.plan_code
        and charge_lines.from_datetime = period_credits.from_datetime
)

select
    invoice_line_id,
    invoice_id,
    billing_month,
    case when period_charges_amount = 0 then {{ as_decimal('0') }}
        else {{ divide_exact(multiply_exact('amount', 'credit_amount'), 'period_charges_amount') }}
    end as precise_credit_amount
from credited_lines
where billing_month >= {{ billing_period_start() }} and billing_month < {{ billing_period_end() }}
