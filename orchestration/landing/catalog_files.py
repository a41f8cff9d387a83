"""Read the pricing catalog's CSV files (docs/inputs.md) into `raw.catalog_*`, as text.

Each file becomes one table of its known columns (absent ones NULL) plus `line_number`, the line
of the file a person would fix; cells are trimmed and an empty cell is NULL. Judging the values
is the rules' job (`catalog_rules`).
"""

from pathlib import Path

import duckdb

from orchestration.landing.catalog_errors import CatalogError
from orchestration.landing.readers import sql_string
from orchestration.sql_rows import one_row

PROPERTY_COLUMNS = (
    "amount",
    "package_size",
    "free_units",
    "rate",
    "fixed_amount",
    "free_units_per_events",
    "free_units_per_total_aggregation",
    "per_transaction_min_amount",
    "per_transaction_max_amount",
)

CATALOG_FILES: dict[str, tuple[str, ...]] = {
    "billing_entity": (
        "name",
        "legal_name",
        "address_line1",
        "address_line2",
        "city",
        "zipcode",
        "country",
        "email",
        "tax_identification_number",
        "timezone",
        "invoice_prefix",
        "document_numbering",
        "net_payment_term",
        "document_locale",
        "invoice_footer",
        "payment_details",
    ),
    "billable_metrics": (
        "metric_code",
        "name",
        "aggregation",
        "field_name",
        "recurring",
        "rounding_function",
        "rounding_precision",
        "valid_from",
    ),
    "metric_filters": ("metric_code", "key", "values"),
    "plans": (
        "plan_code",
        "name",
        "interval",
        "currency",
        "amount",
        "pay_in_advance",
        "trial_days",
        "bill_charges_monthly",
        "minimum_commitment",
        "tax_codes",
        "valid_from",
        "spend_cap_amount",
    ),
    "charges": (
        "charge_code",
        "plan_code",
        "metric_code",
        "charge_model",
        "pay_in_advance",
        "invoiceable",
        "prorated",
        "min_amount",
        "pricing_group_keys",
        "tax_codes",
        *PROPERTY_COLUMNS,
        "valid_from",
    ),
    "charge_filters": (
        "charge_code",
        "filter_code",
        "conditions",
        "pricing_group_keys",
        *PROPERTY_COLUMNS,
        "valid_from",
    ),
    "charge_tiers": (
        "charge_code",
        "filter_code",
        "from_value",
        "to_value",
        "per_unit_amount",
        "flat_amount",
        "rate",
        "valid_from",
    ),
    "usage_thresholds": ("plan_code", "amount", "recurring"),
    "taxes": ("tax_code", "name", "rate", "applied_by_default"),
    "coupons": (
        "coupon_code",
        "coupon_type",
        "amount",
        "currency",
        "percentage_rate",
        "frequency",
        "frequency_duration",
        "plan_codes",
        "metric_codes",
        "expires_at",
    ),
}
REQUIRED_FILES = ("billing_entity", "billable_metrics", "plans", "charges", "taxes")
KEY_COLUMNS = {
    "billing_entity": ("name",),
    "billable_metrics": ("metric_code", "aggregation"),
    "metric_filters": ("metric_code", "key", "values"),
    "plans": ("plan_code", "interval", "currency", "amount"),
    "charges": ("charge_code", "plan_code", "metric_code", "charge_model"),
    "charge_filters": ("charge_code", "filter_code", "conditions"),
    "charge_tiers": ("charge_code", "from_value"),
    "usage_thresholds": ("plan_code", "amount"),
    "taxes": ("tax_code", "rate"),
    "coupons": ("coupon_code", "coupon_type", "frequency"),
}

# Cells kept as written: a pricing group key is an event property key, matched as written, so
# its spaces are checked (and refused) rather than trimmed away.
UNTRIMMED_COLUMNS = frozenset({"pricing_group_keys"})


def _cell(column: str) -> str:
    """A cell trimmed (empty is null), except the columns kept as written."""
    if column in UNTRIMMED_COLUMNS:
        return f"case when trim({column}) = '' then null else {column} end"
    return f"nullif(trim({column}), '')"


def load_catalog_file(conn: duckdb.DuckDBPyConnection, catalog_dir: Path, name: str) -> int:
    """Replace `raw.catalog_<name>` with `<catalog_dir>/<name>.csv` (an empty table if the file
    is optional and absent); return its row count. Raise CatalogError if the file cannot be read,
    misses a key column, or is required and absent."""
    columns = CATALOG_FILES[name]
    path = catalog_dir / f"{name}.csv"
    line = "cast(null as bigint) as line_number"
    if not path.exists():
        if name in REQUIRED_FILES:
            raise CatalogError(f"{path}: required catalog file is missing")
        select = ", ".join(f"cast(null as varchar) as {c}" for c in columns)
        conn.execute(
            f"create or replace table raw.catalog_{name} as select {select}, {line} where false"
        )
        return 0
    reader = (
        f"read_csv({sql_string(str(path))}, header = true, all_varchar = true, "
        "parallel = false, auto_detect = true)"
    )
    try:
        header = [row[0] for row in conn.execute(f"describe select * from {reader}").fetchall()]
        missing = [c for c in KEY_COLUMNS[name] if c not in header]
        if missing:
            raise CatalogError(f"{name}.csv: required columns missing: {', '.join(missing)}")
        select = ", ".join(
            f"{_cell(c)} as {c}" if c in header else f"cast(null as varchar) as {c}"
            for c in columns
        )
        conn.execute(
            f"create or replace table raw.catalog_{name} as "
            f"select {select}, row_number() over () + 1 as line_number from {reader}"
        )
    except duckdb.Error as error:
        raise CatalogError(f"{name}.csv: cannot be read as CSV: {error}") from error
    return one_row(conn.execute(f"select count(*) from raw.catalog_{name}"))[0]
