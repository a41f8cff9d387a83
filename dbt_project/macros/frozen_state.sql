{#- The frozen ledger (models/finalized) as earlier state, the way an incremental model reads
    {{ this }}. Manual credit notes credit invoices finalized by earlier runs, while the invoices of
    this close are drafted from those notes: a ref() would be a cycle, so the model reads the frozen
    table through the `ledger` source (models/finalized/_ledger__sources.yml), which puts the edge in
    the lineage without ordering the build on it. Returns that relation, or none before the first
    finalization, when the table does not exist yet (callers then read no rows). -#}
{% macro frozen_relation(frozen_table) -%}
    {%- if not execute -%}{{ return(none) }}{%- endif -%}
    {{ return(adapter.get_relation(
        database=frozen_table.database, schema=frozen_table.schema, identifier=frozen_table.identifier
    )) }}
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
