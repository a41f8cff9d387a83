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
