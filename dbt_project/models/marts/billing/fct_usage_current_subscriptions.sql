{{ config(tags=['usage']) }}
{#
    Current usage per active subscription (docs/current-usage.md, docs/rules.md §20.3, §20.5): the
    sum of its rounded charge amounts, taxes on them rounded once for the subscription, the total,
    and the projection to the period's end; and its spend cap (docs/rules.md §12b): the cap, the
    amount once the cap's reduction is taken off, and whether the invoiceable usage reached it.
-#}
with

periods as (
    select * from {{ ref('int_usage_periods') }}
),

lines as (
    select * from {{ ref('fct_usage_current') }}
),

billing_charges as (
    select subscription_billing_id, external_subscription_id, charge_code, charge_tax_codes, charges_period_start
    from {{ ref('int_usage_billing_charges') }}
),

plans as (
    select plan_code, tax_codes, spend_cap_amount, valid_from, valid_to from {{ ref('stg_catalog__plans') }}
),

customers as (
    select external_customer_id, tax_codes from {{ ref('int_customers_deduplicated') }}
),

default_taxes as (
    select {{ string_agg_sorted('tax_code', "'|'") }} as tax_codes
    from {{ ref('stg_catalog__taxes') }}
    where is_applied_by_default
),

taxes as (
    select tax_code, tax_rate from {{ ref('stg_catalog__taxes') }}
),

currencies as (
    select currency, exponent from {{ ref('stg_reference__currencies') }}
),

{# The taxes of a charge line (§11): the charge's own, else the plan's, else the customer's, else
    those applied by default, as on an invoice line. -#}
taxed_lines as (
    select
        lines.*,
        billing_charges.subscription_billing_id,
        coalesce(
            nullif(billing_charges.charge_tax_codes, ''),
            nullif(plans.tax_codes, ''),
            nullif(customers.tax_codes, ''),
            nullif(default_taxes.tax_codes, '')
        ) as tax_codes
    from lines
    inner join billing_charges
        on lines.external_subscription_id = billing_charges.external_subscription_id
        and lines.charge_code = billing_charges.charge_code
    left join plans
        on lines.plan_code = plans.plan_code
        and billing_charges.charges_period_start >= plans.valid_from
        and billing_charges.charges_period_start < plans.valid_to
    left join customers on lines.external_customer_id = customers.external_customer_id
    cross join default_taxes
),

line_taxes as (
    select
        taxed_lines.external_subscription_id,
        {{ as_decimal('sum(' ~ percent_of('taxed_lines.amount', 'taxes.tax_rate') ~ ')') }} as precise_taxes_amount
    from taxed_lines
    inner join taxes
        on '|' || taxed_lines.tax_codes || '|' like '%|' || taxes.tax_code || '|%'
    group by taxed_lines.external_subscription_id
),

projected_lines as (
    select
        taxed_lines.external_subscription_id,
        taxed_lines.currency,
        taxed_lines.filter_code,
        taxed_lines.precise_amount,
        projected.has_filters,
        projected.is_recurring,
        projected.days_passed,
        projected.period_days,
        projected.model_projected_amount,
        -- prorate_exact's whole part as a column (int_usage_projected says why).
        case when projected.days_passed > 0
                then {{ prorate_whole('taxed_lines.precise_amount', 'projected.days_passed') }}
        end as amount_whole
    from taxed_lines
    inner join {{ ref('int_usage_projected') }} as projected
        on taxed_lines.subscription_billing_id = projected.subscription_billing_id
        and taxed_lines.charge_code = projected.charge_code
        and taxed_lines.filter_code = projected.filter_code
        and taxed_lines.pricing_group is not distinct from projected.pricing_group
),

{# Each line's projection to the period's end (§20.5), exact: a column of its own, so that the
    rounding below, which names its argument once per currency exponent, does not copy it. -#}
line_projections as (
    select
        projected_lines.external_subscription_id,
        projected_lines.currency,
        {{ as_decimal("greatest(case
            when projected_lines.has_filters and projected_lines.filter_code = '' then 0
            when projected_lines.is_recurring or projected_lines.days_passed >= projected_lines.period_days
                then projected_lines.precise_amount
            when projected_lines.days_passed <= 0 then 0
            when projected_lines.model_projected_amount is not null then projected_lines.model_projected_amount
            else " ~ prorate_exact('projected_lines.precise_amount', 'projected_lines.period_days',
                'projected_lines.days_passed', whole='projected_lines.amount_whole') ~ "
        end, 0)") }} as precise_projected_amount
    from projected_lines
),

projections as (
    select
        line_projections.external_subscription_id,
        sum({{ round_to_exponent('line_projections.precise_projected_amount', 'currencies.exponent') }})
            as projected_amount
    from line_projections
    inner join currencies on line_projections.currency = currencies.currency
    group by line_projections.external_subscription_id
),

amounts as (
    select
        external_subscription_id,
        sum(amount) as amount,
        sum(events_count) as events_count,
        -- What a spend cap limits: the usage that is invoiced (§12b).
        sum(case when is_invoiceable then amount else 0 end) as invoiceable_amount
    from lines
    group by external_subscription_id
),

{# The cap of the period (§12b): the phase's own, else the plan version's of the window's first
    day, at the currency's precision; as the close reads it (int_invoice_spend_caps_applied). -#}
spend_caps as (
    select
        periods.external_subscription_id,
        {{ round_to_exponent(
            'coalesce(phase_caps.subscription_spend_cap_amount, plans.spend_cap_amount)', 'currencies.exponent'
        ) }} as spend_cap_amount
    from periods
    inner join currencies on periods.currency = currencies.currency
    inner join {{ ref('int_subscription_spend_caps') }} as phase_caps
        on periods.external_subscription_id = phase_caps.external_subscription_id
        and periods.requested_at = phase_caps.requested_at
    inner join plans as plans
        on periods.plan_code = plans.plan_code
        and {{ utc_to_local_date('periods.charges_from_at', 'periods.timezone') }} >= plans.valid_from
        and {{ utc_to_local_date('periods.charges_from_at', 'periods.timezone') }} < plans.valid_to
    where coalesce(phase_caps.subscription_spend_cap_amount, plans.spend_cap_amount) is not null
)

select
    periods.external_subscription_id,
    periods.external_customer_id,
    periods.plan_code,
    periods.currency,
    periods.charges_from_at as from_datetime,
    {{ add_seconds_to_instant('periods.charges_to_at', -1) }} as to_datetime,
    periods.charges_period_end as issuing_date,
    cast(coalesce(amounts.events_count, 0) as bigint) as events_count,
    {{ as_money('coalesce(amounts.amount, 0)') }} as amount,
    -- Rounded once, on the sum over every fee and tax (§20.3).
    {{ round_to_exponent('coalesce(line_taxes.precise_taxes_amount, 0)', 'currencies.exponent') }} as taxes_amount,
    {{ as_money(
        'coalesce(amounts.amount, 0) + '
        ~ round_to_exponent('coalesce(line_taxes.precise_taxes_amount, 0)', 'currencies.exponent')
    ) }}
        as total_amount,
    {{ as_money('coalesce(projections.projected_amount, 0)') }} as projected_amount,
    spend_caps.spend_cap_amount,
    {{ as_money(
        'coalesce(amounts.amount, 0) - greatest(coalesce(amounts.invoiceable_amount, 0) - coalesce(spend_caps.spend_cap_amount, amounts.invoiceable_amount, 0), 0)'
    ) }} as capped_amount,
    coalesce(coalesce(amounts.invoiceable_amount, 0) >= spend_caps.spend_cap_amount, false) as spend_cap_reached,
    instant.as_of_at,
    instant.computed_at
from periods
inner join currencies on periods.currency = currencies.currency
cross join {{ ref('int_usage_instant') }} as instant
left join amounts on periods.external_subscription_id = amounts.external_subscription_id
left join line_taxes on periods.external_subscription_id = line_taxes.external_subscription_id
left join projections on periods.external_subscription_id = projections.external_subscription_id
left join spend_caps on periods.external_subscription_id = spend_caps.external_subscription_id
