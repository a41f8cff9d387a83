{#- The pricing properties shared by charges.csv and charge_filters.csv (docs/inputs.md), typed.
    Empty cells stay NULL so that a filter's empty cell falls back to its charge's value. -#}
{% macro typed_charge_properties() -%}
    {{ as_decimal('amount') }} as amount,
    {{ as_decimal('package_size') }} as package_size,
    {{ as_decimal('free_units') }} as free_units,
    {{ as_decimal('rate') }} as rate,
    {{ as_decimal('fixed_amount') }} as fixed_amount,
    cast(free_units_per_events as integer) as free_units_per_events,
    {{ as_decimal('free_units_per_total_aggregation') }} as free_units_per_total_aggregation,
    {{ as_decimal('per_transaction_min_amount') }} as per_transaction_min_amount,
    {{ as_decimal('per_transaction_max_amount') }} as per_transaction_max_amount
{%- endmacro %}

{#- The property columns, for selecting them through a CTE. -#}
{% macro charge_property_names() -%}
    {{ return(['amount', 'package_size', 'free_units', 'rate', 'fixed_amount', 'free_units_per_events',
               'free_units_per_total_aggregation', 'per_transaction_min_amount',
               'per_transaction_max_amount']) }}
{%- endmacro %}

{#- The columns of a frozen invoice line (ledger.finalized_invoice_lines), in order: drafts are
    read with the same list so that both unite in billing.fct_invoice_lines. -#}
{% macro frozen_invoice_line_columns() -%}
    {{ return([
        'invoice_line_id', 'invoice_id', 'subscription_billing_id', 'external_customer_id',
        'external_subscription_id', 'plan_code', 'line_type', 'charge_code', 'metric_code',
        'filter_code', 'pricing_group', 'description', 'currency', 'tax_codes', 'units',
        'events_count', 'unit_amount', 'precise_amount', 'amount', 'precise_coupons_amount',
        'taxes_rate', 'precise_taxes_amount', 'taxes_amount', 'billing_month', 'issuing_date',
        'from_datetime', 'to_datetime_exclusive', 'first_event_at', 'last_event_at', 'wallet_code',
        'restated_invoice_line_id',
    ]) }}
{%- endmacro %}

{#- The columns of a line's tier rows (int_charge_tiers_applied), in order, frozen and drafted. -#}
{% macro invoice_line_tier_columns() -%}
    {{ return([
        'invoice_line_tier_id', 'invoice_line_id', 'invoice_id', 'charge_model', 'tier_rank',
        'step_kind', 'from_value', 'to_value', 'units', 'unit_amount', 'package_size', 'packages',
        'flat_amount', 'precise_amount', 'billing_month',
    ]) }}
{%- endmacro %}

{#- The columns a credit note keeps from its draft (int_credit_notes_drafted) to its frozen row
    (ledger.finalized_credit_notes) and billing.fct_credit_notes, in order, between its
    credit_note_id and number and its status. -#}
{% macro credit_note_columns() -%}
    {{ return([
        'invoice_id', 'invoice_line_id', 'external_customer_id', 'external_subscription_id', 'reason',
        'description', 'issuing_date', 'billing_month', 'currency', 'sub_total_excluding_taxes_amount',
        'coupons_adjustment_amount', 'taxes_amount', 'total_amount', 'credit_amount', 'refund_amount',
    ]) }}
{%- endmacro %}
