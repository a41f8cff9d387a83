{#-
    Spend caps (docs/rules.md §12b, a Meterhouse rule): the `spend_cap` lines that keep the usage
    fees billed for one charges window of a subscription phase at or below its cap.

    A window's usage fees are its `charge` lines on invoices (arrears charges of the invoice that
    closes it, pay-in-advance fees, progressive-billing interim invoices), each invoice's net of its
    progressive-billing credit (§14), so that interim invoices and the closing one add up to the
    window's usage once. Taken in issuing order, the window's usage billed through an invoice is
    C; the cap's reduction through it is R = max(0, highest C so far - cap), and the invoice's
    spend_cap lines take off R minus what earlier invoices of the window took off. So the window
    never bills more than the cap in total, each invoice's reduction is at most its own usage,
    and invoices of earlier closes keep their lines.

    An invoice's reduction is spread over its usage lines' tax codes in proportion to their net
    amounts, one line per set of tax codes, each rounded to the currency; the largest set (then
    the first codes) takes the rounding rest, so the lines add up to the reduction exactly. The
    lines are fees of their invoice: coupons and taxes then apply as to any line (§12).
-#}
with

window_keys as (
    select distinct external_subscription_id, plan_code, from_datetime
    from {{ ref('int_invoice_lines_drafted') }}
    where billing_month >= {{ billing_period_start() }} and billing_month < {{ billing_period_end() }}
        and line_type = 'charge' and invoice_id is not null
),

{# The cap of each window: the phase's own, else the plan version's of the window's first day. -#}
window_caps as (
    select
        window_keys.external_subscription_id,
        window_keys.plan_code,
        window_keys.from_datetime,
        coalesce(phase_caps.subscription_spend_cap_amount, plans.spend_cap_amount) as spend_cap_amount
    from window_keys
    inner join {{ ref('int_subscription_spend_caps') }} as phase_caps
        on window_keys.external_subscription_id = phase_caps.external_subscription_id
        and window_keys.plan_code = phase_caps.plan_code
        and window_keys.from_datetime >= phase_caps.started_at
        and (phase_caps.ended_at is null or window_keys.from_datetime < phase_caps.ended_at)
    inner join {{ ref('stg_catalog__plans') }} as plans
        on phase_caps.plan_code = plans.plan_code
        and {{ utc_to_local_date('window_keys.from_datetime', 'phase_caps.timezone') }} >= plans.valid_from
        and {{ utc_to_local_date('window_keys.from_datetime', 'phase_caps.timezone') }} < plans.valid_to
    where coalesce(phase_caps.subscription_spend_cap_amount, plans.spend_cap_amount) is not null
),

{# Usage lines of the capped windows, from this close and earlier ones, net of progressive credits. -#}
usage_lines as (
    select
        lines.invoice_line_id,
        lines.invoice_id,
        lines.invoice_type,
        lines.subscription_billing_id,
        lines.external_customer_id,
        lines.external_subscription_id,
        lines.plan_code,
        lines.currency,
        lines.tax_codes,
        lines.currency_exponent,
        lines.amount,
        window_caps.spend_cap_amount,
        coalesce(credits.precise_credit_amount, 0) as precise_credit_amount,
        lines.billing_month,
        lines.issuing_date,
        lines.invoice_period_start,
        lines.invoice_period_end,
        lines.from_datetime,
        lines.to_datetime_exclusive
    from {{ ref('int_invoice_lines_drafted') }} as lines
    inner join window_caps
        on lines.external_subscription_id = window_caps.external_subscription_id
        and lines.plan_code = window_caps.plan_code
        and lines.from_datetime = window_caps.from_datetime
    left join {{ ref('int_progressive_billing_credits') }} as credits
        on lines.invoice_line_id = credits.invoice_line_id
    where lines.line_type = 'charge' and lines.invoice_id is not null
),

invoice_usage as (
    select
        usage_lines.external_subscription_id,
        usage_lines.plan_code,
        usage_lines.from_datetime,
        usage_lines.invoice_id,
        usage_lines.issuing_date,
        usage_lines.currency_exponent,
        -- The cap at the currency's precision (§10), like every amount billed.
        {{ round_to_exponent('max(usage_lines.spend_cap_amount)', 'usage_lines.currency_exponent') }}
            as spend_cap_amount,
        sum(usage_lines.amount)
        - {{ round_to_exponent('sum(usage_lines.precise_credit_amount)', 'usage_lines.currency_exponent') }}
            as usage_amount
    from usage_lines
    group by
        usage_lines.external_subscription_id, usage_lines.plan_code, usage_lines.from_datetime,
        usage_lines.invoice_id, usage_lines.issuing_date, usage_lines.currency_exponent
),

cumulative_usage as (
    select
        invoice_usage.*,
        sum(invoice_usage.usage_amount) over window_invoices as cumulative_usage_amount
    from invoice_usage
    window window_invoices as (
        partition by external_subscription_id, plan_code, from_datetime
        order by issuing_date, invoice_id
        rows between unbounded preceding and current row
    )
),

cumulative_reductions as (
    select
        cumulative_usage.*,
        greatest(
            max(cumulative_usage.cumulative_usage_amount) over window_invoices - cumulative_usage.spend_cap_amount, 0
        )
            as cumulative_reduction_amount
    from cumulative_usage
    window window_invoices as (
        partition by external_subscription_id, plan_code, from_datetime
        order by issuing_date, invoice_id
        rows between unbounded preceding and current row
    )
),

invoice_reductions as (
    select
        cumulative_reductions.*,
        cumulative_reductions.cumulative_reduction_amount
        - coalesce(lag(cumulative_reductions.cumulative_reduction_amount) over (
            partition by
                cumulative_reductions.external_subscription_id,
                cumulative_reductions.plan_code,
                cumulative_reductions.from_datetime
            order by cumulative_reductions.issuing_date, cumulative_reductions.invoice_id
        ), 0) as reduction_amount
    from cumulative_reductions
),

{# The invoice's usage lines of the window per set of tax codes. -#}
tax_groups as (
    select
        usage_lines.invoice_id,
        usage_lines.external_subscription_id,
        usage_lines.plan_code,
        usage_lines.from_datetime,
        usage_lines.tax_codes,
        max(usage_lines.invoice_type) as invoice_type,
        max(usage_lines.subscription_billing_id) as subscription_billing_id,
        max(usage_lines.external_customer_id) as external_customer_id,
        max(usage_lines.currency) as currency,
        max(usage_lines.billing_month) as billing_month,
        min(usage_lines.invoice_period_start) as invoice_period_start,
        max(usage_lines.invoice_period_end) as invoice_period_end,
        max(usage_lines.to_datetime_exclusive) as to_datetime_exclusive,
        {{ as_decimal('sum(usage_lines.amount) - sum(usage_lines.precise_credit_amount)') }} as net_amount
    from usage_lines
    group by
        usage_lines.invoice_id, usage_lines.external_subscription_id, usage_lines.plan_code,
        usage_lines.from_datetime, usage_lines.tax_codes
),

group_shares as (
    select
        tax_groups.*,
        invoice_reductions.reduction_amount,
        invoice_reductions.currency_exponent,
        invoice_reductions.issuing_date,
        case when invoice_reductions.usage_amount = 0 then {{ as_decimal('0') }}
            else {{ divide_exact(multiply_exact('invoice_reductions.reduction_amount', 'tax_groups.net_amount'),
                'invoice_reductions.usage_amount') }}
        end as precise_share_amount,
        row_number() over (
            partition by
                tax_groups.invoice_id, tax_groups.external_subscription_id, tax_groups.plan_code,
                tax_groups.from_datetime
            order by tax_groups.net_amount desc, tax_groups.tax_codes asc
        ) as size_rank
    from tax_groups
    inner join invoice_reductions
        on tax_groups.invoice_id = invoice_reductions.invoice_id
        and tax_groups.external_subscription_id = invoice_reductions.external_subscription_id
        and tax_groups.plan_code = invoice_reductions.plan_code
        and tax_groups.from_datetime = invoice_reductions.from_datetime
    where invoice_reductions.reduction_amount > 0
        and tax_groups.billing_month >= {{ billing_period_start() }}
        and tax_groups.billing_month < {{ billing_period_end() }}
),

rounded_shares as (
    select
        group_shares.*,
        {{ round_to_exponent('precise_share_amount', 'currency_exponent') }} as rounded_share_amount
    from group_shares
),

line_amounts as (
    select
        rounded_shares.*,
        case when rounded_shares.size_rank = 1
                then rounded_shares.reduction_amount
                    - sum(case when rounded_shares.size_rank > 1 then rounded_shares.rounded_share_amount else 0 end)
                        over (
                            partition by
                                rounded_shares.invoice_id,
                                rounded_shares.external_subscription_id,
                                rounded_shares.plan_code,
                                rounded_shares.from_datetime
                        )
            else rounded_shares.rounded_share_amount
        end as share_amount
    from rounded_shares
)

select
    {{ hash_key(['invoice_id', "'spend_cap'", 'external_subscription_id', 'plan_code', 'from_datetime', 'tax_codes']) }}
        as invoice_line_id,
    invoice_id,
    invoice_type,
    subscription_billing_id,
    external_customer_id,
    external_subscription_id,
    plan_code,
    'spend_cap' as line_type,
    cast(null as varchar) as charge_code,
    cast(null as varchar) as metric_code,
    cast(null as varchar) as filter_code,
    cast(null as varchar) as pricing_group,
    'Spend cap' as description,
    currency,
    tax_codes,
    currency_exponent,
    {{ as_decimal('1') }} as units,
    cast(0 as bigint) as events_count,
    {{ as_decimal('-share_amount') }} as unit_amount,
    {{ as_decimal('-share_amount') }} as precise_amount,
    {{ as_money('-share_amount') }} as amount,
    billing_month,
    issuing_date,
    from_datetime,
    to_datetime_exclusive,
    cast(null as timestamp) as first_event_at,
    cast(null as timestamp) as last_event_at,
    cast(null as varchar) as transaction_id,
    invoice_period_start,
    invoice_period_end,
    cast(null as varchar) as restated_invoice_line_id
from line_amounts
where share_amount <> 0
