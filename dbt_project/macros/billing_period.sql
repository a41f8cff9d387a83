{#- The close window [start, end): first days of the close months (docs/conventions.md). Dagster passes it
    through MH_BILLING_PERIOD_START/END, so dbt keeps its partial parse between partitions; the
    vars are the fallback for plain `dbt build` and for unit tests. -#}
{% macro billing_period_start() -%}
    cast('{{ env_var("MH_BILLING_PERIOD_START", var("billing_period_start")) }}' as date)
{%- endmacro %}

{% macro billing_period_end() -%}
    cast('{{ env_var("MH_BILLING_PERIOD_END", var("billing_period_end")) }}' as date)
{%- endmacro %}

{#- Period-scoped models are `append` + this pre-hook: a re-run replaces its window exactly, even
    when the window became empty. -#}
{% macro delete_billing_period(column="billing_month") -%}
    {%- if is_incremental() -%}
        delete from {{ this }}
        where {{ column }} >= {{ billing_period_start() }} and {{ column }} < {{ billing_period_end() }}
    {%- endif -%}
{%- endmacro %}

{#- The month being finalized (docs/conventions.md); empty outside `meterhouse finalize`. -#}
{% macro finalize_month() -%}
    {%- set month = env_var("MH_FINALIZE_MONTH", var("finalize_month", "")) -%}
    {%- if month -%}cast('{{ month }}' as date){%- else -%}cast(null as date){%- endif -%}
{%- endmacro %}
