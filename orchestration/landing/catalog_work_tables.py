"""Build the temporary work tables the catalog rules read, from `catalog_sql/*.sql`.

The rules judge the raw text of `raw.catalog_*`; some need it first parsed or joined: the tiers
ranked within their set, each filter's charge version, the filter conditions split into keys and
values, and what prices each charge and filter row. Each is one `.sql` file, run in order. Where
the dbt models parse the same text, the file calls the same dbt macros
(orchestration/sql_macros.py), so the check accepts exactly what the pricing reads.
"""

from importlib.resources import files

import duckdb

from orchestration.landing.schemas import known_currencies, known_timezones
from orchestration.sql_macros import render_plain_calls, sql_macro

SQL_DIR = files("orchestration.landing") / "catalog_sql"

# In the order they are built: each may read the ones before it.
WORK_TABLE_FILES = ("tier_sets", "filter_charges", "filter_conditions", "priced")


def _filter_macros() -> dict[str, str]:
    """The bodies of the charge filter macros (dbt_project/macros/charge_filters.sql), over the
    catalog's tables and work tables."""
    return {
        "split_filter_conditions": sql_macro(
            "charge_filters.sql",
            "duckdb__split_filter_conditions",
            filters="raw.catalog_charge_filters",
        ),
        "expand_filter_wildcards": sql_macro(
            "charge_filters.sql",
            "expand_filter_wildcards",
            conditions="filter_conditions",
            filter_metrics="filter_charges",
            metric_filters="declared_filter_values",
        ),
    }


def work_table_sql(name: str) -> str:
    """The statements of one work table file, with its dbt macros filled in."""
    sql = render_plain_calls((SQL_DIR / f"{name}.sql").read_text())
    for placeholder, body in _filter_macros().items():
        sql = sql.replace("{" + placeholder + "}", body)
    return sql


def build_work_tables(conn: duckdb.DuckDBPyConnection) -> None:
    """Create the reference lists and the work tables the rules read, on `conn`."""
    conn.execute("create or replace temp table catalog_currencies (currency varchar)")
    conn.executemany("insert into catalog_currencies values (?)", [[c] for c in known_currencies()])
    conn.execute("create or replace temp table catalog_timezones (name varchar)")
    conn.executemany("insert into catalog_timezones values (?)", [[t] for t in known_timezones()])
    for name in WORK_TABLE_FILES:
        conn.execute(work_table_sql(name))
