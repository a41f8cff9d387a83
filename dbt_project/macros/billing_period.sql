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

{#- An ephemeral model is compiled into the model that refs it, but its `{{ this }}` and
    `is_incremental()` are its own (no table, never incremental). This returns the table of the
    period-scoped model `name` as its earlier closes left it: what `{{ this }}` is inside that
    model when `is_incremental()` holds there, and none when its next build starts from scratch
    (first build, --full-refresh). Only ephemeral models compiled into `name` may read it: a
    `ref()` would be a cycle. -#}
{% macro period_scoped_table_so_far(name) -%}
    {%- if not execute -%}{{ return(none) }}{%- endif -%}
    {%- set node = graph.nodes['model.' ~ project_name ~ '.' ~ name] -%}
    {%- set relation = adapter.get_relation(node.database, node.schema, node.alias) -%}
    {%- set full_refresh = node.config.full_refresh if node.config.full_refresh is not none
        else flags.FULL_REFRESH -%}
    {%- if relation is none or relation.type != 'table' or node.config.materialized != 'incremental'
        or full_refresh -%}
        {{ return(none) }}
    {%- endif -%}
    {{ return(relation) }}
{%- endmacro %}
