{{ config(tags=['usage']) }}
{#
    The projection of each current bucket (finished in fct_usage_current_subscriptions) to its
    period's end (docs/rules.md §20.5): the period ratio is the days passed over the period's days,
    both whole days rounded up, and x / ratio is x * period days / days passed, exact up to the
    29-digit limit (prorate_exact, docs/bad-input.md). Standard,
    package, graduated and volume charges price round(units / ratio, 2) with the same charge models
    (macros/charge_models.sql); the other models scale the amount by 1 / ratio. A recurring metric
    is not projected (its amount stays), and the default bucket of a charge that has filters
    projects nothing.
-#}
with

billing_charges as (
    select * from {{ ref('int_usage_billing_charges') }}
),

priced as (
    select * from {{ ref('int_usage_charges_priced') }}
),

instant as (
    select as_of_at from {{ ref('int_usage_instant') }}
),

filtered_charges as (
    select distinct subscription_billing_id, charge_code
    from priced
    where filter_code <> ''
),

ratios as (
    select
        priced.subscription_billing_id,
        priced.charge_code,
        priced.charge_model,
        priced.filter_code,
        priced.pricing_group,
        priced.units,
        billing_charges.is_recurring,
        billing_charges.charges_period_start,
        filtered_charges.charge_code is not null as has_filters,
        cast(ceil({{ seconds_between('billing_charges.charges_from_at', 'instant.as_of_at') }} / 86400) as integer)
            as days_passed,
        cast(ceil({{ seconds_between('billing_charges.charges_from_at',
            add_seconds_to_instant('billing_charges.charges_to_at', -1)) }} / 86400) as integer) as period_days
    from priced
    inner join billing_charges
        on priced.subscription_billing_id = billing_charges.subscription_billing_id
        and priced.charge_code = billing_charges.charge_code
    cross join instant
    left join filtered_charges
        on priced.subscription_billing_id = filtered_charges.subscription_billing_id
        and priced.charge_code = filtered_charges.charge_code
),

-- prorate_exact's whole part as a column: inline, its SQL would repeat in every use (DuckDB then
-- spends seconds planning the model).
ratios_with_whole as (
    select
        *,
        case when days_passed > 0 then {{ prorate_whole('units', 'days_passed') }} end as units_whole
    from ratios
),

projected_units as (
    select
        ratios.*,
        {{ hash_key([
            'ratios.subscription_billing_id', 'ratios.charge_code', 'ratios.filter_code', 'ratios.pricing_group',
        ]) }}
            as price_key,
        case when ratios.days_passed > 0
                then {{ round_units(prorate_exact(
                'ratios.units', 'ratios.period_days', 'ratios.days_passed', whole='ratios.units_whole'),
                "'round'", 2) }}
        end as units_at_end,
        {%- for property in charge_property_names() %}
        coalesce(charge_filters.{{ property }}, charges.{{ property }}) as {{ property }},
        {%- endfor %}
        ratios.charges_period_start as tier_date
    from ratios_with_whole as ratios
    inner join {{ ref('stg_catalog__charges') }} as charges
        on ratios.charge_code = charges.charge_code
        and ratios.charges_period_start >= charges.valid_from
        and ratios.charges_period_start < charges.valid_to
    left join {{ ref('stg_catalog__charge_filters') }} as charge_filters
        on ratios.charge_code = charge_filters.charge_code
        and ratios.filter_code = charge_filters.filter_code
        and ratios.charges_period_start >= charge_filters.valid_from
        and ratios.charges_period_start < charge_filters.valid_to
),

unit_priced_input as (
    select
        price_key,
        charge_code,
        filter_code,
        tier_date,
        charge_model,
        units_at_end as units,
        units_at_end as tier_units,
        amount,
        package_size,
        free_units
    from projected_units
    where charge_model in ('standard', 'package', 'graduated', 'volume')
        and units_at_end is not null and units_at_end > 0
),

{{ charge_model_amounts('unit_priced_input', 'unit_priced', charge_tiers=ref('stg_catalog__charge_tiers')) }}

select
    projected_units.subscription_billing_id,
    projected_units.charge_code,
    projected_units.filter_code,
    projected_units.pricing_group,
    projected_units.charge_model,
    projected_units.is_recurring,
    projected_units.has_filters,
    projected_units.days_passed,
    projected_units.period_days,
    projected_units.units_at_end as projected_units,
    -- The charge model on the projected units (standard, package, graduated, volume); 0 units, 0.
    case when projected_units.charge_model in ('standard', 'package', 'graduated', 'volume')
            then {{ as_decimal('coalesce(unit_priced.model_amount, 0)') }}
    end as model_projected_amount
from projected_units
left join unit_priced on projected_units.price_key = unit_priced.price_key
