"""`make lint`'s SQL step: sqlfluff's command line, with dbt's sqlparse limits as dbt sets them.

dbt injects ephemeral models into the model that refs them by tokenizing that model with
sqlparse. sqlparse caps a statement at 10,000 tokens; dbt's own commands lift the cap (their
`--sqlparse` option defaults to no limit), but sqlfluff's dbt templater calls dbt's compiler
without going through that option, so the largest models (`int_invoice_lines_drafted`) would
fail to compile and be skipped. Run as `python -m meterhouse_tools.sql_lint lint dbt_project`.
The dbt templater compiles in this process, also under `--processes`, so the setting holds.
"""

import sqlparse.engine.grouping
from sqlfluff.cli.commands import cli


def main() -> None:
    """Lift sqlparse's caps as dbt does, then run sqlfluff with this process's arguments."""
    sqlparse.engine.grouping.MAX_GROUPING_TOKENS = None  # type: ignore[assignment]  # dbt sets None
    sqlparse.engine.grouping.MAX_GROUPING_DEPTH = None  # type: ignore[assignment]  # likewise
    cli()


if __name__ == "__main__":
    main()
