{#- Dialect-specific expressions (docs/contributing.md, "Portable SQL"): a default__ (ANSI-ish / Spark) and a duckdb__ each. -#}

{#- Text value of a top-level key of a JSON object column; the key may be a column. Any key Lago
    accepts works (quotes, `$`, dots, braces, slashes...): the key is data, never SQL text nor a
    path written into the query. DuckDB reads it through a JSON pointer (RFC 6901: `~` written
    `~0`, `/` written `~1`, nothing else special); Spark through a map lookup. -#}
{% macro json_value_text(json_column, key) -%}
    {{ return(adapter.dispatch('json_value_text', 'meterhouse')(json_column, key)) }}
{%- endmacro %}
{% macro default__json_value_text(json_column, key) -%}
    from_json({{ json_column }}, 'map<string,string>')[{{ key }}]
{%- endmacro %}
{% macro duckdb__json_value_text(json_column, key) -%}
    json_extract_string({{ json_column }}, '/' || replace(replace({{ key }}, '~', '~0'), '/', '~1'))
{%- endmacro %}

{#- Stable text key from several columns. -#}
{% macro hash_key(columns) -%}
    {{ return(adapter.dispatch('hash_key', 'meterhouse')(columns)) }}
{%- endmacro %}
{% macro default__hash_key(columns) -%}
    md5(concat_ws('|'{% for column in columns %}, coalesce(cast({{ column }} as varchar), '\\N'){% endfor %}))
{%- endmacro %}

{#- Date arithmetic on local calendar dates. -#}
{% macro add_days(date_expression, days) -%}
    {{ return(adapter.dispatch('add_days', 'meterhouse')(date_expression, days)) }}
{%- endmacro %}
{% macro default__add_days(date_expression, days) -%}
    date_add({{ date_expression }}, {{ days }})
{%- endmacro %}
{% macro duckdb__add_days(date_expression, days) -%}
    cast({{ date_expression }} + to_days(cast({{ days }} as integer)) as date)
{%- endmacro %}

{% macro add_months(date_expression, months) -%}
    {{ return(adapter.dispatch('add_months', 'meterhouse')(date_expression, months)) }}
{%- endmacro %}
{% macro default__add_months(date_expression, months) -%}
    add_months({{ date_expression }}, {{ months }})
{%- endmacro %}
{% macro duckdb__add_months(date_expression, months) -%}
    cast({{ date_expression }} + to_months(cast({{ months }} as integer)) as date)
{%- endmacro %}

{#- Whole days from a to b (b - a). -#}
{% macro days_between(start_date, end_date) -%}
    {{ return(adapter.dispatch('days_between', 'meterhouse')(start_date, end_date)) }}
{%- endmacro %}
{% macro default__days_between(start_date, end_date) -%}
    datediff({{ end_date }}, {{ start_date }})
{%- endmacro %}
{% macro duckdb__days_between(start_date, end_date) -%}
    date_diff('day', {{ start_date }}, {{ end_date }})
{%- endmacro %}

{% macro trunc_date(part, date_expression) -%}
    cast(date_trunc('{{ part }}', {{ date_expression }}) as date)
{%- endmacro %}

{#- An instant plus whole days of 24 hours (a trial's end, docs/rules.md §9). -#}
{% macro add_days_to_instant(timestamp_expression, days) -%}
    {{ return(adapter.dispatch('add_days_to_instant', 'meterhouse')(timestamp_expression, days)) }}
{%- endmacro %}
{% macro default__add_days_to_instant(timestamp_expression, days) -%}
    {{ timestamp_expression }} + make_interval(0, 0, 0, 0, cast({{ days }} as integer) * 24, 0, 0)
{%- endmacro %}
{% macro duckdb__add_days_to_instant(timestamp_expression, days) -%}
    {{ timestamp_expression }} + to_hours(cast({{ days }} as integer) * 24)
{%- endmacro %}

{#- Instants and local dates (docs/rules.md §8: boundaries at local midnight, stored in UTC). -#}
{% macro local_midnight_to_utc(date_expression, timezone) -%}
    {{ return(adapter.dispatch('local_midnight_to_utc', 'meterhouse')(date_expression, timezone)) }}
{%- endmacro %}
{% macro default__local_midnight_to_utc(date_expression, timezone) -%}
    to_utc_timestamp(cast({{ date_expression }} as timestamp), {{ timezone }})
{%- endmacro %}
{% macro duckdb__local_midnight_to_utc(date_expression, timezone) -%}
    cast(timezone({{ timezone }}, cast({{ date_expression }} as timestamp)) as timestamp)
{%- endmacro %}

{% macro utc_to_local_date(timestamp_expression, timezone) -%}
    {{ return(adapter.dispatch('utc_to_local_date', 'meterhouse')(timestamp_expression, timezone)) }}
{%- endmacro %}
{% macro default__utc_to_local_date(timestamp_expression, timezone) -%}
    cast(from_utc_timestamp({{ timestamp_expression }}, {{ timezone }}) as date)
{%- endmacro %}
{% macro duckdb__utc_to_local_date(timestamp_expression, timezone) -%}
    cast(timezone({{ timezone }}, cast({{ timestamp_expression }} as timestamptz)) as date)
{%- endmacro %}

{#- Sorted, separator-joined list of a column's values within a group. -#}
{% macro string_agg_sorted(column, separator) -%}
    {{ return(adapter.dispatch('string_agg_sorted', 'meterhouse')(column, separator)) }}
{%- endmacro %}
{% macro default__string_agg_sorted(column, separator) -%}
    concat_ws({{ separator }}, sort_array(collect_list({{ column }})))
{%- endmacro %}
{% macro duckdb__string_agg_sorted(column, separator) -%}
    string_agg({{ column }}, {{ separator }} order by {{ column }})
{%- endmacro %}

{#- Zero-pad a whole number to at least `width` digits, never truncating (docs/rules.md §17). -#}
{% macro zero_pad(expression, width) -%}
    case when length(cast({{ expression }} as varchar)) >= {{ width }} then cast({{ expression }} as varchar)
        else lpad(cast({{ expression }} as varchar), {{ width }}, '0') end
{%- endmacro %}

{#- A JSON object (as text) from alternating key / value expressions. -#}
{% macro json_object_text(pairs) -%}
    {{ return(adapter.dispatch('json_object_text', 'meterhouse')(pairs)) }}
{%- endmacro %}
{% macro default__json_object_text(pairs) -%}
    to_json(named_struct({{ pairs | join(', ') }}))
{%- endmacro %}
{% macro duckdb__json_object_text(pairs) -%}
    cast(json_object({{ pairs | join(', ') }}) as varchar)
{%- endmacro %}

{#- Rows of a separator-joined string, as a table expression for `cross join ... as t (item)`;
    use it only on small catalog tables. -#}
{% macro split_to_rows(text_expression, separator) -%}
    {{ return(adapter.dispatch('split_to_rows', 'meterhouse')(text_expression, separator)) }}
{%- endmacro %}
{% macro default__split_to_rows(text_expression, separator) -%}
    lateral (select explode(split({{ text_expression }}, concat('\\Q', {{ separator }}, '\\E'))))
{%- endmacro %}
{% macro duckdb__split_to_rows(text_expression, separator) -%}
    unnest(string_split({{ text_expression }}, {{ separator }}))
{%- endmacro %}

{#- A text value as a JSON string literal (with escapes), or NULL. -#}
{% macro json_quote(text_expression) -%}
    {{ return(adapter.dispatch('json_quote', 'meterhouse')(text_expression)) }}
{%- endmacro %}
{% macro default__json_quote(text_expression) -%}
    to_json(named_struct('v', {{ text_expression }}))
{%- endmacro %}
{% macro duckdb__json_quote(text_expression) -%}
    cast(to_json(cast({{ text_expression }} as varchar)) as varchar)
{%- endmacro %}

{#- Lago's numeric test for event properties (`^-?\d+(\.\d+)?$`, events/stores): values that fail
    it are ignored by numeric aggregations. A JSON number written with an exponent (`1e30`,
    `2.5E-3`) is a number too: Lago's store keeps event properties as JSON whose numbers it prints
    in plain digits. -#}
{% macro is_numeric_text(text_expression) -%}
    {{ return(adapter.dispatch('is_numeric_text', 'meterhouse')(text_expression)) }}
{%- endmacro %}
{% macro default__is_numeric_text(text_expression) -%}
    ({{ text_expression }} rlike '^-?[0-9]+([.][0-9]+)?([eE][-+]?[0-9]+)?$')
{%- endmacro %}
{% macro duckdb__is_numeric_text(text_expression) -%}
    regexp_full_match({{ text_expression }}, '-?[0-9]+([.][0-9]+)?([eE][-+]?[0-9]+)?')
{%- endmacro %}

{#- A numeric property value (is_numeric_text) as the exact decimal(38, 9) Meterhouse bills, or
    NULL when it has more than the 29 integer digits that type holds: such an event is listed in
    `billing.rejected_inputs` (bad_value) and billed nowhere. -#}
{% macro event_number(text_expression) -%}
    {{ return(adapter.dispatch('event_number', 'meterhouse')(text_expression)) }}
{%- endmacro %}
{% macro default__event_number(text_expression) -%}
    try_cast({{ text_expression }} as decimal(38, 9))
{%- endmacro %}
{% macro duckdb__event_number(text_expression) -%}
    try_cast({{ text_expression }} as decimal(38, 9))
{%- endmacro %}

{#- A numeric property value that Meterhouse cannot bill exactly (see event_number). -#}
{% macro is_unbillable_number(text_expression) -%}
    ({{ is_numeric_text(text_expression) }} and {{ event_number(text_expression) }} is null)
{%- endmacro %}

{#- Seconds from one instant to a later one, exact to the microsecond, as a decimal. -#}
{% macro seconds_between(start_timestamp, end_timestamp) -%}
    {{ return(adapter.dispatch('seconds_between', 'meterhouse')(start_timestamp, end_timestamp)) }}
{%- endmacro %}
{% macro default__seconds_between(start_timestamp, end_timestamp) -%}
    cast((unix_micros({{ end_timestamp }}) - unix_micros({{ start_timestamp }})) as decimal(38, 9)) / 1000000
{%- endmacro %}
{% macro duckdb__seconds_between(start_timestamp, end_timestamp) -%}
    cast(date_diff('microsecond', {{ start_timestamp }}, {{ end_timestamp }}) as decimal(38, 9))
        * cast(0.000001 as decimal(10, 6))
{%- endmacro %}

{#- The current instant as a UTC timestamp without zone, like the loader's `loaded_at`, whatever
    the session's time zone. -#}
{% macro utc_now() -%}
    {{ return(adapter.dispatch('utc_now', 'meterhouse')()) }}
{%- endmacro %}
{% macro default__utc_now() -%}
    to_utc_timestamp(current_timestamp(), current_timezone())
{%- endmacro %}
{% macro duckdb__utc_now() -%}
    cast(timezone('UTC', current_timestamp) as timestamp)
{%- endmacro %}

{#- Put after `<name> as` to have a CTE that is read more than once recomputed at each read
    rather than written out. For the close's per-event joins (events with their charges),
    recomputing is cheaper: DuckDB otherwise writes every event out, with its properties, and
    spills (10M events: int_charge_events_bucketed 28 s with 4 GB of temp files, 10 s without;
    the usage aggregation 7.8 s, 3.7 s without; issue #6). Spark always inlines CTEs. -#}
{% macro recomputed_cte() -%}
    {{ return(adapter.dispatch('recomputed_cte', 'meterhouse')()) }}
{%- endmacro %}
{% macro default__recomputed_cte() -%}
{%- endmacro %}
{% macro duckdb__recomputed_cte() -%}
    not materialized
{%- endmacro %}

{#- Put after `<name> as` to have a CTE written out once, for a CTE read through a recomputed_cte()
    several times (lifetime usage's events, int_usage_lifetime_units). Spark always inlines CTEs. -#}
{% macro materialized_cte() -%}
    {{ return(adapter.dispatch('materialized_cte', 'meterhouse')()) }}
{%- endmacro %}
{% macro default__materialized_cte() -%}
{%- endmacro %}
{% macro duckdb__materialized_cte() -%}
    materialized
{%- endmacro %}

{#- An instant plus whole seconds (current usage's inclusive period end, docs/current-usage.md). -#}
{% macro add_seconds_to_instant(timestamp_expression, seconds) -%}
    {{ return(adapter.dispatch('add_seconds_to_instant', 'meterhouse')(timestamp_expression, seconds)) }}
{%- endmacro %}
{% macro default__add_seconds_to_instant(timestamp_expression, seconds) -%}
    {{ timestamp_expression }} + make_interval(0, 0, 0, 0, 0, 0, cast({{ seconds }} as integer))
{%- endmacro %}
{% macro duckdb__add_seconds_to_instant(timestamp_expression, seconds) -%}
    {{ timestamp_expression }} + to_seconds(cast({{ seconds }} as integer))
{%- endmacro %}
