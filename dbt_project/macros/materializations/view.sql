{#- Views on DuckDB (docs/performance.md, "Tables and views"): one `create or replace view`
    instead of dbt's create, rename, rename and drop, and nothing at all when the warehouse
    already holds the view of this very SQL: a close selects every view, and the staging views'
    SQL changes only with the project. The view's comment carries the fingerprint of what built
    it (the compiled SQL and, under a contract, the declared columns), so a changed model, macro,
    variable or contract builds it again; DuckDB binds a view when it is read, so an upstream
    table that gained columns needs no rebuild. -#}
{%- materialization view, adapter='duckdb' -%}
    {%- set target_relation = this.incorporate(type='view') -%}
    {%- set existing_relation = load_cached_relation(this) -%}
    {%- set contract = config.get('contract') -%}
    {%- set declared = tojson(model['columns']) if contract.enforced else '' -%}
    {%- set fingerprint = 'meterhouse view ' ~ local_md5(sql ~ declared) -%}

    {{ run_hooks(pre_hooks, inside_transaction=False) }}
    {{ run_hooks(pre_hooks, inside_transaction=True) }}

    {#- dbt wants a `main` statement from every model: when a view exists, it is the lookup. -#}
    {%- set built = namespace(same=false) -%}
    {%- if existing_relation is not none and existing_relation.is_view -%}
        {% call statement('main', fetch_result=True) -%}
            select comment from duckdb_views()
            where database_name = '{{ target_relation.database }}'
                and schema_name = '{{ target_relation.schema }}'
                and view_name = '{{ target_relation.identifier }}'
        {%- endcall %}
        {%- set found = load_result('main').table -%}
        {%- set built.same = found.rows | length == 1 and found.rows[0][0] == fingerprint -%}
    {%- endif -%}
    {%- if not built.same -%}
        {%- if contract.enforced -%}
            {{ get_assert_columns_equivalent(sql) }}
        {%- endif -%}
        {% call statement('main') -%}
            {%- if existing_relation is not none and not existing_relation.is_view %}
            drop {{ existing_relation.type }} if exists {{ existing_relation }};
            {%- endif %}
            create or replace view {{ target_relation }} as (
                {{ sql }}
            );
            comment on view {{ target_relation }} is '{{ fingerprint }}';
        {%- endcall %}
    {%- endif -%}

    {{ run_hooks(post_hooks, inside_transaction=True) }}
    {{ adapter.commit() }}
    {{ run_hooks(post_hooks, inside_transaction=False) }}

    {{ return({'relations': [target_relation]}) }}
{%- endmaterialization -%}
