{#- The frozen ledger (models/finalized) as earlier state, read without a DAG edge, the way an
    incremental model reads {{ this }}. Manual credit notes credit invoices finalized by earlier
    runs, while the invoices of this close are drafted from those notes: a ref() would be a cycle.
    Returns the relation, or none before the first finalization (callers then read no rows). -#}
{% macro frozen_relation(model_name) -%}
    {%- if not execute -%}{{ return(none) }}{%- endif -%}
    {%- set node = graph.nodes.values() | selectattr('resource_type', 'equalto', 'model')
        | selectattr('name', 'equalto', model_name) | first -%}
    {{ return(adapter.get_relation(database=node.database, schema=node.schema, identifier=node.alias)) }}
{%- endmacro %}

{#- A pre-hook for a frozen model that gained a column: a table frozen before gets it, empty on
    the rows it holds (they are never rewritten), so the next append matches its schema. -#}
{% macro add_column_if_missing(column, data_type) -%}
    {%- if execute and is_incremental() -%}
        {%- set existing = adapter.get_columns_in_relation(this) | map(attribute='name') | map('lower') | list -%}
        {%- if column | lower not in existing -%}
            alter table {{ this }} add column {{ column }} {{ data_type }}
        {%- endif -%}
    {%- endif -%}
{%- endmacro %}
