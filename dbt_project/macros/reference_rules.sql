{#-
    Why an input row that names something else cannot be billed, stated once: the close applies
    these in its models (rejected_inputs, int_subscriptions_validated, int_applied_coupons_validated,
    int_wallets_validated) and `meterhouse validate` (orchestration/review_cli.py) reads the same
    bodies as plain SQL over the raw tables, so they hold no Jinja. Each is a `case` that is null
    for a row that can be billed; the relations and columns each one reads are named above it.
-#}

{#- Over `events` (metric_code, external_subscription_id), `metrics` (metric_code) and
    `billable_subscription_ids` (external_subscription_id of subscriptions that can be billed). -#}
{% macro event_rejection_reason() -%}
case
    when events.metric_code not in (select metric_code from metrics) then 'unknown_metric'
    when events.external_subscription_id not in (select external_subscription_id from billable_subscription_ids)
        then 'unknown_subscription'
end
{%- endmacro %}

{#- Over one row with has_customer, has_plan, customer_currency, plan_currency, billing_time,
    external_customer_id and plan_code. -#}
{% macro subscription_rejection_reason() -%}
case
    when not has_customer then 'unknown_customer'
    when not has_plan then 'unknown_plan'
    when customer_currency <> plan_currency then 'currency_mismatch'
    when billing_time not in ('calendar', 'anniversary') then 'bad_value'
end
{%- endmacro %}

{% macro subscription_rejection_detail() -%}
case
    when not has_customer then 'no customer ' || external_customer_id || ' in customers/'
    when not has_plan then 'no plan ' || plan_code || ' in force at the start in plans.csv'
    when customer_currency <> plan_currency
        then 'plan currency ' || plan_currency || ' differs from customer currency ' || customer_currency
    when billing_time not in ('calendar', 'anniversary')
        then 'billing_time ' || billing_time || ' is neither calendar nor anniversary'
end
{%- endmacro %}

{#- Over `applied` (applied_at) left joined to `coupons` (coupon_code, expires_at) and
    `customers` (external_customer_id). -#}
{% macro applied_coupon_rejection_reason() -%}
case
    when customers.external_customer_id is null then 'unknown_customer'
    when coupons.coupon_code is null then 'unknown_coupon'
    when applied.applied_at > coupons.expires_at then 'expired_coupon'
end
{%- endmacro %}

{% macro applied_coupon_rejection_detail() -%}
case rejection_reason
    when 'unknown_customer' then 'the customer is not in customers/'
    when 'unknown_coupon' then 'the coupon_code is not in coupons.csv'
    when 'expired_coupon' then 'the coupon expired before applied_at'
end
{%- endmacro %}

{#- Over `wallets` (currency) left joined to `customers` (external_customer_id, currency). -#}
{% macro wallet_rejection_reason() -%}
case
    when customers.external_customer_id is null then 'unknown_customer'
    when customers.currency <> wallets.currency then 'currency_mismatch'
end
{%- endmacro %}

{% macro wallet_rejection_detail() -%}
case rejection_reason
    when 'unknown_customer' then 'the customer is not in customers/'
    when 'currency_mismatch' then 'the wallet currency differs from the customer''s currency'
end
{%- endmacro %}
