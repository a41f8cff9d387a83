"""What every reader shares: `staged_text`'s select list, SQL quoting, the unreadable-file error."""

import duckdb

from orchestration.landing.readers.kinds import LandingKind


def sql_string(value: str) -> str:
    """A SQL string literal: DuckDB table functions take file paths as literals, not parameters."""
    return "'" + value.replace("'", "''") + "'"


class UnreadableFileError(Exception):
    """No row of the file can be read (not the format its name says, truncated, binary)."""


def identifier(name: str) -> str:
    """A quoted SQL identifier (a column name from a landing file may hold quotes)."""
    return '"' + name.replace('"', '""') + '"'


def select_fields(conn: duckdb.DuckDBPyConnection, kind: LandingKind, reader: str, raw: str) -> str:
    """The select list that turns `reader`'s rows into `staged_text` rows (after line_number).

    `raw` is the row as JSON text. Binary (Parquet) fields are decoded; one that is not UTF-8
    makes the row unparseable. A struct, list or map in a scalar field sets has_nested_value.
    """
    try:
        described = conn.execute(f"describe select * from {reader}").fetchall()
    except duckdb.InvalidInputException as error:  # not a CSV file at all (binary)
        raise UnreadableFileError(str(error)) from error
    available = {row[0]: row[1] for row in described}

    def is_nested(field: str) -> bool:
        # DuckDB spells LIST `T[]`, ARRAY `T[n]`, and STRUCT(...), MAP(...), UNION(...).
        data_type = available.get(field, "")
        return field not in kind.json_fields and (
            data_type.endswith("]") or data_type.startswith(("STRUCT", "MAP", "UNION"))
        )

    def column(field: str) -> str:
        if field not in available:
            return f'cast(null as varchar) as "{field}"'
        if available[field] == "VARCHAR":
            return f'"{field}"'
        if available[field] == "BLOB":  # Parquet binary: text only if it is UTF-8
            return f'try(decode("{field}")) as "{field}"'
        if field in kind.json_fields:
            return f'to_json("{field}")::varchar as "{field}"'
        return f'cast("{field}" as varchar) as "{field}"'

    undecodable = [
        f'("{f}" is not null and try(decode("{f}")) is null)'
        for f in kind.fields
        if available.get(f) == "BLOB"
    ]
    parseable = f"not ({' or '.join(undecodable)})" if undecodable else "true"
    nested = [f'"{f}" is not null' for f in kind.fields if is_nested(f)]
    has_nested_value = " or ".join(nested) if nested else "false"
    return (
        f"{raw}::varchar as raw, {parseable} as is_parseable, "
        f"{has_nested_value} as has_nested_value, {', '.join(column(f) for f in kind.fields)}"
    )
