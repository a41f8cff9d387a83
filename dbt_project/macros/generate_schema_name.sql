{#- A folder's +schema is the schema itself (billing, staging, ...): each environment has its own
    warehouse file, so no target prefix is needed. -#}
{% macro generate_schema_name(custom_schema_name, node) -%}
    {%- if custom_schema_name is none -%}{{ target.schema }}{%- else -%}{{ custom_schema_name | trim }}{%- endif -%}
{%- endmacro %}
