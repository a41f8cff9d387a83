{#- The close window [start, end): first days of the close months (docs/conventions.md). Each close
    passes it as `--vars` (orchestration/partitions.py); dbt runs in the command's process on a
    manifest parsed once, so a new window costs no parse. The defaults of dbt_project.yml serve a
    plain `dbt build` and the unit tests. -#}
{% macro billing_period_start() -%}
    cast('{{ var("billing_period_start") }}' as date)
{%- endmacro %}

{% macro billing_period_end() -%}
    cast('{{ var("billing_period_end") }}' as date)
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
    {%- set month = var("finalize_month", "") -%}
    {%- if month -%}cast('{{ month }}' as date){%- else -%}cast(null as date){%- endif -%}
{%- endmacro %}
