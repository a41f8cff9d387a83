{#-
    The amount of each charge for its units (rule book §1.1-1.4), unrounded:
    standard = units × amount; package = packages started beyond the free units × amount;
    graduated = Σ over the tiers reached of tier units × price + flat fee (both tier conventions);
    volume = all units at the price of the one tier they reach + its flat fee.
-#}
with

usage as (
    select
        usage.subscription_billing_id,
        usage.billing_month,
        usage.charge_code,
        usage.metric_code,
        usage.events_count,
        usage.units,
        usage.first_event_at,
        usage.last_event_at,
        billings.charges_period_start
    from {{ ref('int_usage_aggregated_to_charge_period') }} as usage
    inner join {{ ref('int_subscription_billings_scheduled') }} as billings
        on usage.subscription_billing_id = billings.subscription_billing_id
    where
        usage.billing_month >= {{ billing_period_start() }}
        and usage.billing_month < {{ billing_period_end() }}
        and billings.billing_month >= {{ billing_period_start() }}
        and billings.billing_month < {{ billing_period_end() }}
),

charges as (
    select
        charge_code,
        charge_model,
        amount,
        package_size,
        free_units,
        valid_from,
        valid_to
    from {{ ref('stg_catalog__charges') }}
),

tiers as (
    select
        charge_code,
        filter_code,
        from_value,
        to_value,
        per_unit_amount,
        flat_amount,
        tier_rank,
        previous_to_value,
        is_adjacent_convention,
        valid_from
    from {{ ref('stg_catalog__charge_tiers') }}
    where filter_code = ''
),

{#- Tier sets are versioned as a whole: the latest valid_from on or before the period start. -#}
tier_versions as (
    select
        usage.subscription_billing_id,
        usage.charge_code,
        max(tiers.valid_from) as tier_valid_from
    from usage
    inner join tiers
        on usage.charge_code = tiers.charge_code
        and tiers.valid_from <= usage.charges_period_start
    group by usage.subscription_billing_id, usage.charge_code
),

usage_tiers as (
    select
        usage.subscription_billing_id,
        usage.charge_code,
        usage.units,
        tiers.tier_rank,
        tiers.from_value,
        tiers.to_value,
        tiers.per_unit_amount,
        tiers.flat_amount,
        tiers.previous_to_value,
        tiers.is_adjacent_convention
    from usage
    inner join tier_versions
        on usage.subscription_billing_id = tier_versions.subscription_billing_id
        and usage.charge_code = tier_versions.charge_code
    inner join tiers
        on tier_versions.charge_code = tiers.charge_code
        and tier_versions.tier_valid_from = tiers.valid_from
),

{#- Graduated (§1.3): a tier is reached when every earlier tier ends below the units; the first
    always is, so its flat fee is billed at zero usage. -#}
graduated_amounts as (
    select
        subscription_billing_id,
        charge_code,
        sum(
            {{ as_decimal(
                "case
                    when from_value = 0 then least(units, coalesce(to_value, units))
                    when is_adjacent_convention then least(units, coalesce(to_value, units)) - from_value
                    else least(units, coalesce(to_value, units)) - from_value + 1
                end * per_unit_amount"
            ) }} + flat_amount
        ) as graduated_amount
    from usage_tiers
    where tier_rank = 1 or previous_to_value < units
    group by subscription_billing_id, charge_code
),

{#- Volume (§1.4): the first tier with from_value <= ceil(units) and units <= to_value. -#}
volume_amounts as (
    select subscription_billing_id, charge_code, volume_amount
    from (
        select
            subscription_billing_id,
            charge_code,
            {{ as_decimal('units * per_unit_amount') }} + flat_amount as volume_amount,
            row_number() over (
                partition by subscription_billing_id, charge_code order by tier_rank
            ) as match_rank
        from usage_tiers
        where from_value <= ceil(units) and (to_value is null or units <= to_value)
    ) as matches
    where match_rank = 1
),

priced as (
    select
        usage.subscription_billing_id,
        usage.billing_month,
        usage.charge_code,
        usage.metric_code,
        charges.charge_model,
        usage.events_count,
        usage.units,
        {{ as_decimal("case when charges.charge_model = 'package'
            then greatest(usage.units - charges.free_units, 0) end") }} as paid_units,
        case charges.charge_model
            when 'standard' then {{ as_decimal('usage.units * charges.amount') }}
            when 'package' then {{ as_decimal(
                "case when usage.units - charges.free_units <= 0 then 0
                 else ceil(" ~ divide_exact('usage.units - charges.free_units', 'charges.package_size')
                 ~ ") * charges.amount end") }}
            when 'graduated' then graduated_amounts.graduated_amount
            when 'volume' then volume_amounts.volume_amount
        end as amount,
        usage.first_event_at,
        usage.last_event_at
    from usage
    inner join charges
        on usage.charge_code = charges.charge_code
        and usage.charges_period_start >= charges.valid_from
        and usage.charges_period_start < charges.valid_to
    left join graduated_amounts
        on usage.subscription_billing_id = graduated_amounts.subscription_billing_id
        and usage.charge_code = graduated_amounts.charge_code
    left join volume_amounts
        on usage.subscription_billing_id = volume_amounts.subscription_billing_id
        and usage.charge_code = volume_amounts.charge_code
)

select
    subscription_billing_id,
    billing_month,
    charge_code,
    metric_code,
    charge_model,
    events_count,
    units,
    {{ as_decimal('coalesce(amount, 0)') }} as amount,
    -- Rule book §1: amount / units (package: / paid units), 0 when there are none.
    {{ as_decimal(
        "case when coalesce(paid_units, units) = 0 then 0 else "
        ~ divide_exact('coalesce(amount, 0)', 'coalesce(paid_units, units)') ~ " end"
    ) }} as unit_amount,
    first_event_at,
    last_event_at
from priced
