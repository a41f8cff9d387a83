{#- The latest row of each subscription phase, with its customer and plan structure, and why it
    cannot be billed when it cannot (reported in billing.rejected_inputs). -#}
with

subscriptions as (
    select
        external_subscription_id,
        external_customer_id,
        plan_code,
        billing_time,
        source_file,
        line_number,
        spend_cap_amount,
        subscription_at,
        started_at,
        terminated_at,
        updated_at,
        loaded_at
    from {{ ref('stg_landing__subscriptions') }}
),

customers as (
    select external_customer_id, currency, timezone
    from {{ ref('int_customers_deduplicated') }}
),

plans as (
    select
        plan_code, plan_interval, currency, amount, trial_days, is_pay_in_advance, bills_charges_monthly,
        valid_from, valid_to
    from {{ ref('stg_catalog__plans') }}
),

latest_phases as (
    select *
    from (
        select
            subscriptions.*,
            row_number() over (
                partition by subscriptions.external_subscription_id, subscriptions.started_at
                order by
                    subscriptions.updated_at desc nulls last,
                    subscriptions.loaded_at desc,
                    subscriptions.line_number desc
            ) as recency_rank
        from subscriptions
    ) as ranked
    where recency_rank = 1
),

joined as (
    select
        latest_phases.external_subscription_id,
        latest_phases.external_customer_id,
        latest_phases.plan_code,
        latest_phases.billing_time,
        latest_phases.source_file,
        customers.currency as customer_currency,
        customers.timezone,
        plans.plan_interval,
        plans.currency as plan_currency,
        plans.amount as plan_amount,
        plans.trial_days,
        latest_phases.line_number,
        latest_phases.spend_cap_amount,
        coalesce(plans.is_pay_in_advance, false) as is_pay_in_advance,
        coalesce(plans.bills_charges_monthly, false) as bills_charges_monthly,
        customers.external_customer_id is not null as has_customer,
        plans.plan_code is not null as has_plan,
        latest_phases.subscription_at,
        latest_phases.started_at,
        latest_phases.terminated_at,
        latest_phases.loaded_at
    from latest_phases
    left join customers on latest_phases.external_customer_id = customers.external_customer_id
    -- Structure (interval, currency, timing) comes from the plan version in force at the start;
    -- changing it mid-subscription is a plan change, i.e. a new phase.
    left join plans
        on latest_phases.plan_code = plans.plan_code
        and {{ utc_to_local_date('latest_phases.started_at', "coalesce(customers.timezone, 'UTC')") }}
        >= plans.valid_from
        and {{ utc_to_local_date('latest_phases.started_at', "coalesce(customers.timezone, 'UTC')") }} < plans.valid_to
)

select
    external_subscription_id,
    external_customer_id,
    plan_code,
    billing_time,
    plan_currency as currency,
    timezone,
    plan_interval,
    plan_amount,
    trial_days,
    source_file,
    {{ subscription_rejection_reason() }} as rejection_reason,
    {{ subscription_rejection_detail() }} as rejection_detail,
    line_number,
    spend_cap_amount,
    is_pay_in_advance,
    bills_charges_monthly,
    subscription_at,
    started_at,
    terminated_at,
    {{ utc_to_local_date('started_at', "coalesce(timezone, 'UTC')") }} as started_on,
    {{ utc_to_local_date('terminated_at', "coalesce(timezone, 'UTC')") }} as terminated_on,
    loaded_at
from joined
