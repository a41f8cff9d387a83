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

{#- The rule of every public table that shows documents (docs/conventions.md, "Drafts,
    finalization and late data"): a finalized month shows its frozen rows, any other month its
    drafts. True for a row of a month that is not finalized. -#}
{% macro is_unfinalized_month(finalized_invoices) -%}
    billing_month not in (select billing_month from {{ finalized_invoices }})
{%- endmacro %}

{#- That rule as the rows of one public table: the frozen rows, then the drafts of the months
    not finalized, each side read with the same columns, optionally tagged with their status. -#}
{% macro frozen_rows_and_drafts(frozen, drafted, finalized_invoices, columns=none, with_status=false) -%}
    {%- set column_list = columns | join(', ') if columns else '*' -%}
    select {{ column_list }}{% if with_status %}, 'finalized' as status{% endif %}
    from {{ frozen }}
    union all
    select {{ column_list }}{% if with_status %}, 'draft' as status{% endif %}
    from {{ drafted }}
    where {{ is_unfinalized_month(finalized_invoices) }}
{%- endmacro %}
