{#-
    The amount of each charge bucket for its units (docs/rules.md §1), unrounded, with the bucket's
    properties (a filter's own, falling back to its charge's, §1.11):
    standard, package, graduated, volume and graduated_percentage from the units
    (macros/charge_models.sql, the same rules as pay-in-advance pricing); percentage from the
    bucket's events in order (§1.5); dynamic from the events' own prices (§1.7); prorated
    charges from the prorated units (§2.1, §1.4), prorated graduated event by event (§1.9).
-#}
with

usage as (
    select *
    from {{ ref('int_usage_aggregated_to_charge_period') }}
    where billing_month >= {{ billing_period_start() }} and billing_month < {{ billing_period_end() }}
),

billing_charges as (
    select
        subscription_billing_id, external_subscription_id, charge_code, charges_period_days,
        charges_from_date, charges_to_date
    from {{ ref('int_subscription_billing_charges') }}
    where billing_month >= {{ billing_period_start() }} and billing_month < {{ billing_period_end() }}
),

charges as (
    select * from {{ ref('stg_catalog__charges') }}
),

charge_filters as (
    select * from {{ ref('stg_catalog__charge_filters') }}
),

buckets as (
    select
        usage.*,
        {{ hash_key(['usage.subscription_billing_id', 'usage.charge_code', 'usage.filter_code', 'usage.pricing_group']) }}
            as price_key,
        charges.charge_model,
        charges.is_prorated and not charges.is_pay_in_advance as is_prorated_charge,
        {%- for property in charge_property_names() %}
        coalesce(charge_filters.{{ property }}, charges.{{ property }}) as {{ property }},
        {%- endfor %}
        usage.charges_period_start as tier_date
    from usage
    inner join charges
        on usage.charge_code = charges.charge_code
        and usage.charges_period_start >= charges.valid_from
        and usage.charges_period_start < charges.valid_to
    left join charge_filters
        on usage.charge_code = charge_filters.charge_code
        and usage.filter_code = charge_filters.filter_code
        and usage.charges_period_start >= charge_filters.valid_from
        and usage.charges_period_start < charge_filters.valid_to
),

unit_priced_input as (
    select
        price_key,
        charge_code,
        filter_code,
        tier_date,
        charge_model,
        case when is_prorated_charge then prorated_units else units end as units,
        units as tier_units,
        amount,
        package_size,
        free_units
    from buckets
    where charge_model in ('standard', 'package', 'volume', 'graduated_percentage')
        or (charge_model = 'graduated' and not is_prorated_charge)
),

{{ charge_model_amounts('unit_priced_input', 'unit_priced') }},

events as (
    select
        buckets.price_key,
        buckets.charge_model,
        buckets.rate,
        buckets.fixed_amount,
        coalesce(buckets.free_units_per_events, 0) as free_events_limit,
        coalesce(buckets.free_units_per_total_aggregation, 0) as free_amount_limit,
        buckets.per_transaction_min_amount,
        buckets.per_transaction_max_amount,
        buckets.charges_period_start,
        buckets.charge_code,
        buckets.metric_code,
        buckets.filter_code,
        billing_charges.external_subscription_id,
        billing_charges.charges_period_days,
        billing_charges.charges_from_date,
        billing_charges.charges_to_date,
        bucketed.transaction_id,
        bucketed.event_at,
        bucketed.event_local_date,
        bucketed.is_carried_over,
        coalesce(bucketed.value_number, 0) as value_number
    from buckets
    inner join billing_charges
        on buckets.subscription_billing_id = billing_charges.subscription_billing_id
        and buckets.charge_code = billing_charges.charge_code
    inner join {{ ref('int_charge_events_bucketed') }} as bucketed
        on buckets.subscription_billing_id = bucketed.subscription_billing_id
        and buckets.charge_code = bucketed.charge_code
        and buckets.filter_code = bucketed.filter_code
        and buckets.pricing_group is not distinct from bucketed.pricing_group
    where (buckets.charge_model = 'percentage'
            or (buckets.charge_model = 'graduated' and buckets.is_prorated_charge))
        and bucketed.billing_month >= {{ billing_period_start() }}
        and bucketed.billing_month < {{ billing_period_end() }}
),

{#- Percentage (§1.5): running totals, in event order, feed the free units and free events. -#}
percentage_events as (
    select
        *,
        row_number() over event_order as event_position,
        sum(value_number) over event_order as running_total,
        max(sum_before) over event_order as max_running_total_before
    from (
        select
            *,
            coalesce(sum(value_number) over (
                partition by price_key order by event_at, transaction_id
                rows between unbounded preceding and 1 preceding
            ), 0) as sum_before
        from events
        where charge_model = 'percentage'
    ) as with_sum_before
    window event_order as (
        partition by price_key order by event_at, transaction_id rows between unbounded preceding and current row
    )
),

percentage_flags as (
    select *, {{ percentage_event_flags() }}
    from percentage_events
),

percentage_sums as (
    select
        price_key,
        max(free_events_limit) as free_events_limit,
        max(free_amount_limit) as free_amount_limit,
        count(case when is_in_running_total then 1 end) as running_total_size,
        sum(case when is_in_running_total then value_number else 0 end) as last_running_total,
        count(case when is_in_running_total and running_total < free_amount_limit then 1 end)
            as running_totals_below_free_amount,
        sum({{ percentage_paying_event_amount() }}) as per_transaction_amount
    from percentage_flags
    group by price_key
),

percentage_free_units as (
    select
        price_key,
        per_transaction_amount,
        {{ percentage_free_units('running_total_size', 'last_running_total', 'running_totals_below_free_amount') }}
    from percentage_sums
),

percentage_amounts as (
    select
        buckets.price_key,
        {{ percentage_amount(
            'buckets.units', 'buckets.events_count', 'coalesce(free.free_value, 0)',
            'coalesce(free.free_events, 0)', 'free.per_transaction_amount') }} as model_amount
    from buckets
    left join percentage_free_units as free on buckets.price_key = free.price_key
    where buckets.charge_model = 'percentage'
),

{#- Prorated graduated (§1.9): cumulative full units place each event's units in the tiers; its
    prorated share of them is priced; flat fees of every tier reached are billed in full. The
    price of an event's units in a tier is prorated like the event (units x price x active days
    / period days, prorate_exact: exact for every amount that fits 29 integer digits,
    docs/bad-input.md). -#}
prorated_events as (
    select
        *,
        case
            when is_carried_over then {{ days_between('charges_from_date', 'charges_to_date') }} + 1
            else {{ days_between('event_local_date', 'charges_to_date') }} + 1
        end as prorated_days,
        sum(value_number) over (
            partition by price_key order by is_carried_over desc, event_at, transaction_id
            rows between unbounded preceding and current row
        ) as cumulative_units
    from events
    where charge_model = 'graduated'
),

prorated_tier_sets as (
    {{ tier_set_in_force('buckets', "buckets.charge_model = 'graduated' and buckets.is_prorated_charge") }}
),

prorated_tiers as (
    select
        prorated_events.price_key,
        prorated_events.charge_code,
        prorated_events.metric_code,
        prorated_events.external_subscription_id,
        prorated_events.value_number,
        prorated_events.prorated_days,
        prorated_events.charges_period_days,
        prorated_events.cumulative_units - prorated_events.value_number as units_before,
        prorated_events.cumulative_units,
        tiers.tier_rank,
        case when tiers.tier_rank = 1 then 0 else tiers.previous_to_value end as tier_floor,
        tiers.to_value as tier_ceiling,
        tiers.per_unit_amount,
        tiers.flat_amount
    from prorated_events
    inner join prorated_tier_sets as tier_sets on prorated_events.price_key = tier_sets.price_key
    inner join {{ ref('stg_catalog__charge_tiers') }} as tiers
        on prorated_events.charge_code = tiers.charge_code
        and tier_sets.tier_filter_code = tiers.filter_code
        and tier_sets.tier_valid_from = tiers.valid_from
),

prorated_graduated_amounts as (
    select
        buckets.price_key,
        greatest(coalesce(units.unit_amount, 0) + coalesce(flats.flat_amount, first_flat.flat_amount, 0), 0)
            as model_amount
    from buckets
    left join (
        select
            price_key,
            {{ sum_within_limit(
                prorate_exact('tier_full_amount', 'prorated_days', 'charges_period_days', 'tier_amount_whole'),
                "'the prorated graduated amount of metric ' || any_value(metric_code) || ' for subscription '"
                ~ " || any_value(external_subscription_id) || ' (charge ' || any_value(charge_code) || ')'") }}
                as unit_amount
        from (
            select *, {{ prorate_whole('tier_full_amount', 'charges_period_days') }} as tier_amount_whole
            from (
                select
                    *,
                    {{ multiply_exact(
                        'least(greatest(cumulative_units, tier_floor), coalesce(tier_ceiling, greatest(cumulative_units, tier_floor)))'
                        ~ ' - least(greatest(units_before, tier_floor), coalesce(tier_ceiling, greatest(units_before, tier_floor)))',
                        'per_unit_amount') }} as tier_full_amount
                from prorated_tiers
            ) as tier_amounts
        ) as tier_shares
        group by price_key
    ) as units on buckets.price_key = units.price_key
    left join (
        select price_key, sum(flat_amount) as flat_amount
        from (
            select distinct price_key, tier_rank, flat_amount, tier_floor,
                max(cumulative_units) over (partition by price_key) as max_cumulative_units
            from prorated_tiers
        ) as reached
        where tier_rank = 1 or tier_floor < max_cumulative_units
        group by price_key
    ) as flats on buckets.price_key = flats.price_key
    -- No events: the first tier's flat fee alone (§18.1).
    left join prorated_tier_sets as tier_sets on buckets.price_key = tier_sets.price_key
    left join {{ ref('stg_catalog__charge_tiers') }} as first_flat
        on buckets.charge_code = first_flat.charge_code
        and tier_sets.tier_filter_code = first_flat.filter_code
        and tier_sets.tier_valid_from = first_flat.valid_from
        and first_flat.tier_rank = 1
    where buckets.charge_model = 'graduated' and buckets.is_prorated_charge
),

priced as (
    select
        buckets.*,
        {{ as_decimal("coalesce(case
            when buckets.charge_model = 'percentage' then percentage_amounts.model_amount
            when buckets.charge_model = 'dynamic' then case when buckets.units = 0 then 0 else buckets.dynamic_amount end
            when buckets.charge_model = 'graduated' and buckets.is_prorated_charge
                then prorated_graduated_amounts.model_amount
            else unit_priced.model_amount
        end, 0)") }} as priced_amount,
        unit_priced.paid_units
    from buckets
    left join unit_priced on buckets.price_key = unit_priced.price_key
    left join percentage_amounts on buckets.price_key = percentage_amounts.price_key
    left join prorated_graduated_amounts on buckets.price_key = prorated_graduated_amounts.price_key
)

select
    subscription_billing_id,
    billing_month,
    charge_code,
    metric_code,
    charge_model,
    filter_code,
    pricing_group,
    events_count,
    -- §2.1: a prorated charge reports its full units; the prorated ones only price it.
    units,
    priced_amount as amount,
    -- Rule book §1: amount / units (package: / paid units), 0 when there are none.
    {{ as_decimal(
        "case when coalesce(paid_units, units) = 0 then 0 else "
        ~ divide_exact('priced_amount', 'coalesce(paid_units, units)') ~ " end"
    ) }} as unit_amount,
    first_event_at,
    last_event_at
from priced
