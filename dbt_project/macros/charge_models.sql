{#-
    The charge models that are a function of the units alone (docs/rules.md §1.1-1.4, §1.6), as CTEs
    reading `source` and ending in a CTE named `name` with (price_key, model_amount, paid_units).

    `source` has one row per price_key with: charge_code, filter_code, tier_date (the tier set in
    force on that day is used), charge_model, units (what is priced), tier_units (what picks the
    volume tier: the full units of a prorated charge, §1.4), amount, package_size, free_units.
    The bucket's own tiers are used when it has some, else the charge's.
-#}
{% macro charge_model_amounts(source, name, charge_tiers) -%}
{{ name }}_tier_sets as (
    {{ tier_set_in_force(source, source ~ ".charge_model in ('graduated', 'volume', 'graduated_percentage')",
        charge_tiers) }}
),

{{ name }}_tiers as (
    select
        {{ source }}.price_key,
        {{ source }}.charge_model,
        {{ source }}.units,
        {{ source }}.tier_units,
        tiers.tier_rank,
        tiers.from_value,
        tiers.to_value,
        tiers.previous_to_value,
        tiers.per_unit_amount,
        tiers.flat_amount,
        coalesce(tiers.rate, 0) as tier_rate,
        tiers.is_adjacent_convention
    from {{ source }}
    inner join {{ name }}_tier_sets as tier_sets on {{ source }}.price_key = tier_sets.price_key
    inner join {{ charge_tiers }} as tiers
        on {{ source }}.charge_code = tiers.charge_code
        and tier_sets.tier_filter_code = tiers.filter_code
        and tier_sets.tier_valid_from = tiers.valid_from
),

{#- Graduated (§1.3) and graduated_percentage (§1.6): every tier reached adds its units at its
    price (or rate) plus its flat fee; the first tier is always reached (§18.1).
    Graduated_percentage only knows the inclusive convention. -#}
{{ name }}_graduated as (
    select
        price_key,
        sum(
            case when charge_model = 'graduated' then tier_graduated_amount
            else {{ divide_exact('tier_percentage_product', 100) }}
            end + flat_amount
        ) as model_amount
    from (
        select
            *,
            case when charge_model = 'graduated' then {{ multiply_exact('tier_graduated_units', 'per_unit_amount') }}
            end as tier_graduated_amount,
            case when charge_model <> 'graduated' then {{ multiply_exact('tier_percentage_units', 'tier_rate') }}
            end as tier_percentage_product
        from (
            select
                *,
                case when charge_model = 'graduated' then {{ graduated_tier_units() }} end as tier_graduated_units,
                case when charge_model <> 'graduated' then
                    case
                        when to_value is not null and units >= to_value
                            then to_value - case when from_value = 0 then 1 else from_value end + 1
                        when from_value = 0 then units
                        else units - from_value + 1
                    end
                end as tier_percentage_units
            from {{ name }}_tiers
            where charge_model in ('graduated', 'graduated_percentage')
                and (tier_rank = 1 or previous_to_value < units)
        ) as tier_units
    ) as tier_amounts
    group by price_key
),

{#- Volume (§1.4): the tier with from_value <= ceil(units) and units <= to_value prices every
    unit; a prorated charge picks it from the full units (§18.3). -#}
{{ name }}_volume as (
    select price_key, tier_rank, model_amount
    from (
        select
            price_key,
            tier_rank,
            {{ multiply_exact('units', 'per_unit_amount') }} + flat_amount as model_amount,
            row_number() over (partition by price_key order by tier_rank) as match_rank
        from {{ name }}_tiers
        where charge_model = 'volume'
            and from_value <= ceil(tier_units) and (to_value is null or tier_units <= to_value)
    ) as matches
    where match_rank = 1
),

{{ name }} as (
    select
        {{ source }}.price_key,
        {{ as_decimal("case " ~ source ~ ".charge_model
            when 'standard' then " ~ multiply_exact(source ~ '.units', source ~ '.amount') ~ "
            when 'package' then case when " ~ source ~ ".units - coalesce(" ~ source ~ ".free_units, 0) <= 0 then 0
                else " ~ multiply_exact(source ~ '.packages', source ~ '.amount') ~ " end
            when 'volume' then volume.model_amount
            else graduated.model_amount
        end") }} as model_amount,
        {{ as_decimal("case when " ~ source ~ ".charge_model = 'package'
            then greatest(" ~ source ~ ".units - coalesce(" ~ source ~ ".free_units, 0), 0) end") }} as paid_units
    from (
        {#- The packages started, as a column: nested inline, the division's SQL is copied into
            the product's (money.sql). -#}
        select
            *,
            case when charge_model = 'package' then
                case when units - coalesce(free_units, 0) <= 0 then null
                    else ceil({{ divide_exact('units - coalesce(free_units, 0)', 'package_size') }}) end
            end as packages
        from {{ source }}
    ) as {{ source }}
    left join {{ name }}_graduated as graduated on {{ source }}.price_key = graduated.price_key
    left join {{ name }}_volume as volume on {{ source }}.price_key = volume.price_key
)
{%- endmacro %}

{#- The units a graduated tier prices (docs/rules.md §1.3), over a row of `<name>_tiers` that the
    units reach; shared by the amount above and the per-tier rows of int_charge_tiers_applied. -#}
{% macro graduated_tier_units() -%}
    case
        when from_value = 0 then least(units, coalesce(to_value, units))
        when is_adjacent_convention then least(units, coalesce(to_value, units)) - from_value
        else least(units, coalesce(to_value, units)) - from_value + 1
    end
{%- endmacro %}

{#- A percentage charge's per-transaction minimum and maximum (docs/rules.md §1.5; for everyone,
    docs/conventions.md). -#}
{% macro clamp_per_transaction(expression, minimum, maximum) -%}
    case
        when {{ minimum }} is not null and {{ expression }} < {{ minimum }} then {{ minimum }}
        when {{ maximum }} is not null and {{ expression }} > {{ maximum }} then {{ maximum }}
        else {{ expression }}
    end
{%- endmacro %}

{#-
    Percentage (docs/rules.md §1.5), shared by in-arrears and pay-in-advance pricing. Over events in
    order, with columns free_events_limit (N), free_amount_limit (X), event_position,
    running_total (through this event), max_running_total_before and value_number:
    - is_in_running_total: Lago's running total holds the first N events, else the events up to
      the first total past X;
    - paying_value / is_paying_event: the per-transaction walk (min/max): the free amount absorbs
      whole events until the running total reaches it, and the event that reaches it pays for
      the excess; with no free amount, the first N events are free.
-#}
{% macro percentage_event_flags() -%}
    case
        when free_events_limit > 0 then event_position <= free_events_limit
        when free_amount_limit > 0 then max_running_total_before <= free_amount_limit
        else false
    end as is_in_running_total,
    case
        when free_amount_limit > 0 then
            case
                when greatest(max_running_total_before, running_total) < free_amount_limit then 0
                when max_running_total_before < free_amount_limit then running_total - free_amount_limit
                else value_number
            end
        when event_position <= free_events_limit then 0
        else value_number
    end as paying_value,
    case
        when free_amount_limit > 0 then greatest(max_running_total_before, running_total) >= free_amount_limit
        else event_position > free_events_limit
    end as is_paying_event
{%- endmacro %}

{#- The amount of a paying event in the walk, clamped to the per-transaction limits, in three
    steps, each a column the next one reads (nested exact macros get column operands, money.sql):
    paying_product, then paying_price, then the amount. -#}
{% macro percentage_paying_product() -%}
    case when is_paying_event then {{ multiply_exact('paying_value', 'rate') }} end
{%- endmacro %}

{% macro percentage_paying_price() -%}
    case when is_paying_event then {{ divide_exact('paying_product', 100) }} + coalesce(fixed_amount, 0) end
{%- endmacro %}

{% macro percentage_paying_event_amount() -%}
    case when is_paying_event then
        {{ clamp_per_transaction('paying_price', 'per_transaction_min_amount', 'per_transaction_max_amount') }}
    else 0 end
{%- endmacro %}

{#- Free units and free events from the running total's size, last value and the count of its
    values below X; N and X ignored when 0. -#}
{% macro percentage_free_units(size, last_total, below_free_amount) -%}
    case
        when {{ size }} = 0 or {{ last_total }} = 0 then 0
        when free_amount_limit = 0 then {{ last_total }}
        else least({{ last_total }}, free_amount_limit)
    end as free_value,
    case
        when free_events_limit > 0 and {{ below_free_amount }} > 0
            then least(free_events_limit, {{ below_free_amount }})
        when free_events_limit > 0 then free_events_limit
        else {{ below_free_amount }}
    end as free_events
{%- endmacro %}

{#- The amount for `units` over `events` (the formula without per-transaction limits, else the
    walk's sum); `product` is a column holding percentage_amount_product(units, free_value). -#}
{% macro percentage_amount(units, events, free_value, free_events, per_transaction_amount, product) -%}
    case
        when per_transaction_min_amount is not null or per_transaction_max_amount is not null
            then coalesce({{ per_transaction_amount }}, 0)
        else
            case when {{ free_value }} > {{ units }} then 0
                else {{ divide_exact(product, 100) }} end
            + case
                when {{ units }} = 0 or fixed_amount is null or {{ free_events }} >= {{ events }} then 0
                else {{ multiply_exact(events ~ ' - ' ~ free_events, 'fixed_amount') }}
            end
    end
{%- endmacro %}

{#- The tier set that prices each row of `source` (price_key, charge_code, filter_code, tier_date):
    the bucket's own tiers when it has some, else the charge's, in their latest version on or
    before tier_date (tiers are versioned as a set, docs/inputs.md), for the rows of `source`
    that meet `condition`. -#}
{% macro tier_set_in_force(source, condition, charge_tiers) -%}
    select price_key, tier_filter_code, tier_valid_from
    from (
        select
            {{ source }}.price_key,
            tiers.filter_code as tier_filter_code,
            tiers.valid_from as tier_valid_from,
            row_number() over (
                partition by {{ source }}.price_key
                order by case when tiers.filter_code = {{ source }}.filter_code then 0 else 1 end,
                    tiers.valid_from desc
            ) as set_rank
        from {{ source }}
        inner join {{ charge_tiers }} as tiers
            on {{ source }}.charge_code = tiers.charge_code
            and (tiers.filter_code = {{ source }}.filter_code or tiers.filter_code = '')
            and tiers.valid_from <= {{ source }}.tier_date
            and tiers.tier_rank = 1
        where {{ condition }}
    ) as ranked
    where set_rank = 1
{%- endmacro %}

{#- (units - free_value) * rate of percentage_amount, where the formula uses it (else NULL). -#}
{% macro percentage_amount_product(units, free_value) -%}
    case
        when per_transaction_min_amount is not null or per_transaction_max_amount is not null then null
        when {{ free_value }} > {{ units }} then null
        else {{ multiply_exact(units ~ ' - ' ~ free_value, 'rate') }}
    end
{%- endmacro %}
