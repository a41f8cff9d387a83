"""SQL that types one text field of `staged_text`: trimmed text, decimals, timestamps, lists.

A value that does not parse becomes NULL (and the row is quarantined by the loader), never an
error that fails the whole file.
"""


def parse_timestamp(column: str) -> str:
    """ISO 8601 (with offset, or naive = UTC) or Unix seconds -> naive UTC timestamp, or NULL.

    Only years 1 to 9999 count as parsed: DuckDB also accepts 'infinity' and years up to 294247
    (or BC), which Python's datetime cannot hold, and polars panics when pandera reports such a
    row ("NaiveDateTime + TimeDelta overflowed"), failing the whole file. They become NULL, so
    the row is quarantined as bad_timestamp instead.
    """
    text = f"trim({column})"
    parsed = (
        f"cast(case when regexp_full_match({text}, '-?[0-9]{{1,12}}(\\.[0-9]+)?') "
        f"then try(to_timestamp(cast({text} as double))) "
        f"else try_cast({text} as timestamptz) end as timestamp)"
    )
    return (
        f"case when {parsed} between timestamp '0001-01-01' "
        f"and timestamp '9999-12-31 23:59:59.999999' then {parsed} end"
    )


def text_field(field: str) -> str:
    return f"nullif(trim({field}), '') as {field}"


def decimal_field(field: str) -> str:
    """`<field>_text` (given or not) and `<field>` as decimal(38, 9) (NULL when not a number)."""
    text = f"nullif(trim({field}), '')"
    return f"{text} as {field}_text,\ntry_cast({text} as decimal(38, 9)) as {field}"


def timestamp_field(field: str) -> str:
    """`<field>_text` (given or not) and `<field>` as a naive UTC timestamp, NULL if unparseable."""
    return f"nullif(trim({field}), '') as {field}_text,\n{parse_timestamp(field)} as {field}"


def whole_number_field(field: str) -> str:
    """`<field>_text` and `<field>` as an integer: NULL unless a whole number ("3", "3.0")."""
    number = f"try_cast(trim({field}) as decimal(38, 9))"
    return (
        f"nullif(trim({field}), '') as {field}_text,\n"
        f"case when {number} = trunc({number}) then try_cast({number} as integer) end as {field}"
    )


def pipe_list_field(field: str, lower: bool = False) -> str:
    """A `|`-separated list, items trimmed, de-duplicated and sorted; NULL when it has no item."""
    item = "lower(trim(item))" if lower else "trim(item)"
    items = f"list_filter(list_transform(string_split({field}, '|'), lambda item: {item}), "
    items += "lambda item: item <> '')"
    return f"nullif(array_to_string(list_sort(list_distinct({items})), '|'), '') as {field}"
