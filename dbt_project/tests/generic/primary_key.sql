{#- A primary key in one scan: fails for every key value that is null or occurs more than once
    (dbt's `unique` and `not_null` on one column, one node instead of two; docs/contributing.md). -#}
{% test primary_key(model, column_name) %}
select {{ column_name }} as key_value, count(*) as occurrences
from {{ model }}
group by {{ column_name }}
having {{ column_name }} is null or count(*) > 1
{% endtest %}
