{#- Tables on DuckDB (docs/performance.md, "Tables and views"): the old table dropped and the new
    one created in one statement, inside the model's transaction, instead of dbt-duckdb's create
    under a temporary name, two renames and a drop after the commit. DuckDB's DDL is
    transactional, so a reader or a crash sees the old table or the new one, never neither, and
    every close runs four statements fewer per table. The contract's column check and
    constraints come from dbt-duckdb's `create_table_as` as before. -#}
{%- materialization table, adapter='duckdb' -%}
    {%- set existing_relation = load_cached_relation(this) -%}
    {%- set target_relation = this.incorporate(type='table') -%}

    {{ run_hooks(pre_hooks, inside_transaction=False) }}
    {{ run_hooks(pre_hooks, inside_transaction=True) }}

    {% call statement('main') -%}
        {%- if existing_relation is not none %}
        drop {{ existing_relation.type }} if exists {{ existing_relation }};
        {%- endif %}
        {{ create_table_as(False, target_relation, sql) }}
    {%- endcall %}

    {{ run_hooks(post_hooks, inside_transaction=True) }}
    {{ adapter.commit() }}
    {{ run_hooks(post_hooks, inside_transaction=False) }}

    {{ return({'relations': [target_relation]}) }}
{%- endmaterialization -%}
