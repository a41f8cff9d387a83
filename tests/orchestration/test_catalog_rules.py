"""The catalog's rule files and the dbt macros the catalog check reads as SQL."""

import duckdb
import pytest

from orchestration.landing.catalog_rules import catalog_rules, parse_rules
from orchestration.sql_macros import sql_macro


def test_a_rule_block_gives_its_text_query_and_column() -> None:
    text = (
        "-- The rules of x.csv.\n\n"
        "-- rule: a must be\n--   positive\n-- column: a\n"
        "select line_number\nfrom raw.catalog_x\nwhere a <= 0\n\n"
        "-- a note between rules, not part of the query above\n\n"
        "-- rule: {column} must be set\n-- columns: b, c\n"
        "select line_number from raw.catalog_x where {column} is null\n"
    )
    assert parse_rules("x", text, {}) == [
        ("x", "a must be positive", "select line_number\nfrom raw.catalog_x\nwhere a <= 0", "a"),
        ("x", "b must be set", "select line_number from raw.catalog_x where b is null", "b"),
        ("x", "c must be set", "select line_number from raw.catalog_x where c is null", "c"),
    ]


def test_a_placeholder_without_a_value_is_an_error() -> None:
    with pytest.raises(RuntimeError, match=r"\{table\}"):
        parse_rules("x", "-- rule: r\nselect line_number from {table}\n", {})


def test_every_rule_has_a_query_and_plain_sql() -> None:
    rules = catalog_rules()
    assert len(rules) == 126
    for file, rule, sql, *_ in rules:
        assert rule and sql.lstrip().startswith(("select", "with")), (file, rule)
        assert "{{" not in sql and "{%" not in sql, (file, rule)


def test_a_macro_gets_exactly_its_arguments() -> None:
    with pytest.raises(RuntimeError, match="got"):
        sql_macro("charge_filters.sql", "duckdb__split_filter_conditions", relation="t")


def test_the_filter_parsing_the_dbt_model_uses_runs_in_the_check() -> None:
    conn = duckdb.connect()
    conn.execute(
        "create table filters as select * from (values (2, 'region=eu|us;tier=*'), (3, 'gpu'), "
        "(4, null)) as v (line_number, conditions)"
    )
    split = sql_macro("charge_filters.sql", "duckdb__split_filter_conditions", filters="filters")
    assert sorted(conn.execute(split).fetchall(), key=repr) == sorted(
        [
            (2, 1, "region", 2, "eu"),
            (2, 1, "region", 2, "us"),
            (2, 2, "tier", 1, "*"),
            (3, 1, None, 1, None),
        ],
        key=repr,
    )
    conn.execute(f"create table conditions as {split}")
    conn.execute("create table filter_metrics as select 2 as line_number, 'm' as metric_code")
    conn.execute(
        "create table metric_filters as select * from (values ('m', 'tier', 'gold'), "
        "('m', 'tier', 'silver'), ('m', 'region', 'ap')) "
        "as v (metric_code, filter_key, filter_value)"
    )
    expand = sql_macro(
        "charge_filters.sql",
        "expand_filter_wildcards",
        conditions="conditions",
        filter_metrics="filter_metrics",
        metric_filters="metric_filters",
    )
    # Line 3 is malformed (no `=`): it gives no rows; `*` is every value declared for its key.
    assert sorted(conn.execute(expand).fetchall()) == [
        (2, "region", "eu"),
        (2, "region", "us"),
        (2, "tier", "gold"),
        (2, "tier", "silver"),
    ]
