{#- The spend cap a subscription phase set in subscriptions/ (docs/rules.md §12b), beside the
    phase's window, so that the close and current usage find the cap of a charges window by its
    subscription, plan and first instant. NULL: the plan's cap applies, if it has one. -#}
with

phases as (
    select external_subscription_id, requested_at, plan_code, timezone, started_at, ended_at
    from {{ ref('int_subscription_phases') }}
),

validated as (
    select external_subscription_id, started_at, spend_cap_amount
    from {{ ref('int_subscriptions_validated') }}
    where rejection_reason is null
)

select
    phases.external_subscription_id,
    phases.requested_at,
    phases.plan_code,
    phases.timezone,
    validated.spend_cap_amount as subscription_spend_cap_amount,
    phases.started_at,
    phases.ended_at
from phases
inner join validated
    on phases.external_subscription_id = validated.external_subscription_id
    and phases.requested_at = validated.started_at
