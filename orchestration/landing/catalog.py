"""Load the pricing catalog (docs/inputs.md) into `raw.catalog_*` and refuse an invalid one.

The catalog is code: a file that breaks a rule stops the close with an error naming the file, the
line and the rule (docs/bad-input.md, docs/rules.md §17b). This module runs the steps, in one
transaction: read the CSV files (`catalog_files`), build the work tables (`catalog_work_tables`),
run every rule of the rule table (`catalog_rules`, queries in `catalog_sql/rules/`) and report what
breaks (`catalog_errors`).
"""

from pathlib import Path

import duckdb

from orchestration.landing.catalog_errors import CatalogError, Violation
from orchestration.landing.catalog_files import CATALOG_FILES, KEY_COLUMNS, load_catalog_file
from orchestration.landing.catalog_rules import catalog_rules
from orchestration.landing.catalog_work_tables import build_work_tables

__all__ = ["CatalogError", "catalog_violations", "load_catalog"]


def catalog_violations(conn: duckdb.DuckDBPyConnection) -> list[Violation]:
    """Every rule the loaded catalog breaks, in file and line order."""
    build_work_tables(conn)
    violations = []
    for file, rule, sql, *column in catalog_rules():
        # A rule's query gives the line, and may give the offending value as a second column.
        for line, *value in conn.execute(sql).fetchall():
            shown = f"{rule}, found {value[0]!r}" if value else rule
            violations.append(Violation(file, line, shown, column[0] if column else None))
    # Required key cells, per file.
    for name, keys in KEY_COLUMNS.items():
        for key in keys:
            for (line,) in conn.execute(
                f"select line_number from raw.catalog_{name} where {key} is null"
            ).fetchall():
                violations.append(Violation(name, line, f"{key} is required"))
    return sorted(violations, key=lambda v: (v.file, v.line or 0, v.rule))


def load_catalog(conn: duckdb.DuckDBPyConnection, catalog_dir: Path) -> dict[str, int]:
    """Replace `raw.catalog_*` with the catalog in `catalog_dir`; raise CatalogError if invalid.

    Runs in one transaction, so an invalid catalog leaves the previous one in place.
    """
    if not catalog_dir.is_dir():
        raise CatalogError(f"{catalog_dir}: catalog directory does not exist")
    conn.execute("create schema if not exists raw")
    conn.execute("begin transaction")
    try:
        counts = {name: load_catalog_file(conn, catalog_dir, name) for name in CATALOG_FILES}
        violations = catalog_violations(conn)
        if violations:
            listing = "\n".join(f"  {catalog_dir}/{v}" for v in violations)
            raise CatalogError(f"the pricing catalog breaks {len(violations)} rule(s):\n{listing}")
        conn.execute("commit")
    except BaseException:
        conn.execute("rollback")
        raise
    return counts
