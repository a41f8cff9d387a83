{#-
    How each graduated, volume and package charge line was priced, one row per step, so that an
    invoice can show it (docs/invoices.md) instead of an average unit price:
    - graduated (docs/rules.md §1.3): every tier the units reach, with the units it prices, its unit
      price and its flat fee;
    - volume (§1.4): the one tier that prices every unit;
    - package (§1.2): the free units, then the paid units in whole packages.
    The tiers are the ones int_charges_priced uses (the same macro picks the tier set and prices
    it); prorated charges are left out (their prorated units price them, §2.1). A line gets its
    rows only when their sum is its amount exactly, which assert_line_tiers_sum_to_line checks.
-#}
with

usage as (
    select *
    from {{ ref('int_usage_aggregated_to_charge_period') }}
    where billing_month >= {{ billing_period_start() }} and billing_month < {{ billing_period_end() }}
),

charges as (
    select * from {{ ref('stg_catalog__charges') }}
),

charge_filters as (
    select * from {{ ref('stg_catalog__charge_filters') }}
),

lines as (
    select
        invoice_line_id, invoice_id, subscription_billing_id, charge_code, filter_code, pricing_group,
        precise_amount, billing_month
    from {{ ref('int_invoice_lines_taxed') }}
    where billing_month >= {{ billing_period_start() }} and billing_month < {{ billing_period_end() }}
        and line_type = 'charge'
),

buckets as (
    select
        usage.subscription_billing_id,
        usage.billing_month,
        usage.charge_code,
        usage.filter_code,
        usage.pricing_group,
        usage.units,
        {{ hash_key([
            'usage.subscription_billing_id', 'usage.charge_code', 'usage.filter_code', 'usage.pricing_group',
        ]) }}
            as price_key,
        charges.charge_model,
        coalesce(charge_filters.amount, charges.amount) as amount,
        coalesce(charge_filters.package_size, charges.package_size) as package_size,
        coalesce(charge_filters.free_units, charges.free_units) as free_units,
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
    where charges.charge_model in ('graduated', 'volume', 'package')
        and not (charges.is_prorated and not charges.is_pay_in_advance)
),

unit_priced_input as (
    select
        price_key,
        charge_code,
        filter_code,
        tier_date,
        charge_model,
        units,
        units as tier_units,
        amount,
        package_size,
        free_units
    from buckets
),

{{ charge_model_amounts('unit_priced_input', 'unit_priced', charge_tiers=ref('stg_catalog__charge_tiers')) }},

graduated_steps as (
    select
        price_key,
        tier_rank,
        'tier' as step_kind,
        from_value,
        to_value,
        {{ as_decimal(graduated_tier_units()) }} as units,
        per_unit_amount as unit_amount,
        flat_amount,
        {{ multiply_exact(graduated_tier_units(), 'per_unit_amount') }} + flat_amount as precise_amount
    from unit_priced_tiers
    where charge_model = 'graduated' and (tier_rank = 1 or previous_to_value < units)
),

volume_steps as (
    select
        tiers.price_key,
        tiers.tier_rank,
        'tier' as step_kind,
        tiers.from_value,
        tiers.to_value,
        tiers.units,
        tiers.per_unit_amount as unit_amount,
        tiers.flat_amount,
        volume.model_amount as precise_amount
    from unit_priced_volume as volume
    inner join unit_priced_tiers as tiers
        on volume.price_key = tiers.price_key and volume.tier_rank = tiers.tier_rank
),

package_steps as (
    select
        price_key,
        1 as tier_rank,
        'free_units' as step_kind,
        cast(0 as decimal(38, 9)) as from_value,
        free_units as to_value,
        least(units, free_units) as units,
        cast(0 as decimal(38, 9)) as unit_amount,
        cast(0 as decimal(38, 9)) as flat_amount,
        cast(0 as decimal(38, 9)) as precise_amount
    from unit_priced_input
    where charge_model = 'package' and coalesce(free_units, 0) > 0 and units > 0
    union all
    select
        unit_priced.price_key,
        2 as tier_rank,
        'packages' as step_kind,
        coalesce(input.free_units, 0) as from_value,
        cast(null as decimal(38, 9)) as to_value,
        unit_priced.paid_units as units,
        input.amount as unit_amount,
        cast(0 as decimal(38, 9)) as flat_amount,
        unit_priced.model_amount as precise_amount
    from unit_priced
    inner join unit_priced_input as input on unit_priced.price_key = input.price_key
    where input.charge_model = 'package' and unit_priced.paid_units > 0
),

steps as (
    select * from graduated_steps
    union all
    select * from volume_steps
    union all
    select * from package_steps
),

line_steps as (
    select
        lines.invoice_line_id,
        lines.invoice_id,
        lines.billing_month,
        lines.precise_amount as line_precise_amount,
        buckets.charge_model,
        buckets.package_size,
        steps.*,
        sum(steps.precise_amount) over (partition by lines.invoice_line_id) as steps_precise_amount
    from steps
    inner join buckets on steps.price_key = buckets.price_key
    inner join lines
        on buckets.subscription_billing_id = lines.subscription_billing_id
        and buckets.charge_code = lines.charge_code
        and buckets.filter_code = coalesce(lines.filter_code, '')
        and buckets.pricing_group is not distinct from lines.pricing_group
)

select
    {{ hash_key(['invoice_line_id', 'step_kind', 'tier_rank']) }} as invoice_line_tier_id,
    invoice_line_id,
    invoice_id,
    charge_model,
    cast(tier_rank as integer) as tier_rank,
    step_kind,
    {{ as_decimal('from_value') }} as from_value,
    {{ as_decimal('to_value') }} as to_value,
    {{ as_decimal('units') }} as units,
    {{ as_decimal('unit_amount') }} as unit_amount,
    {{ as_decimal("case when step_kind = 'packages' then package_size end") }} as package_size,
    {{ as_decimal("case when step_kind = 'packages' then ceil(" ~ divide_exact('units', 'package_size') ~ ") end") }}
        as packages,
    {{ as_decimal('flat_amount') }} as flat_amount,
    {{ as_decimal('precise_amount') }} as precise_amount,
    billing_month
from line_steps
-- A line whose amount is not what its steps add up to (a negative usage zeroed, §4) gets none.
where steps_precise_amount = line_precise_amount
