"""Read a landing file of any supported format into uniform text rows, then type them.

Every format becomes the relation `staged_text`: `line_number`, `raw` (the row as text, kept for
quarantine), `is_parseable`, `has_nested_value` and one VARCHAR column per contract field (NULL
when absent). Typing is one SQL step per landing kind, shared by all formats, so NDJSON, CSV and
Parquet rows are judged by the same rules.

No single row may fail or lose the rest of its file: what a reader cannot read becomes an
unparseable row (quarantined as malformed), and a file no row of which can be read raises
UnreadableFileError for the loader to quarantine whole. docs/bad-input.md lists the cases.

One job a module: `files` lists a folder's files and stages one by its format (`ndjson`,
`csv_file`, `parquet`); `staged` holds what those share; `kinds` is the landing contract, typed
with the SQL of `field_sql`.
"""

from orchestration.landing.readers.files import FORMATS, landing_files, stage_file
from orchestration.landing.readers.kinds import (
    ALERTS,
    APPLIED_COUPONS,
    CREDIT_NOTES,
    CUSTOMERS,
    EVENTS,
    LANDING_KINDS,
    SUBSCRIPTIONS,
    WALLET_TRANSACTIONS,
    WALLETS,
    LandingKind,
)
from orchestration.landing.readers.staged import UnreadableFileError, sql_string

__all__ = [
    "ALERTS",
    "APPLIED_COUPONS",
    "CREDIT_NOTES",
    "CUSTOMERS",
    "EVENTS",
    "FORMATS",
    "LANDING_KINDS",
    "SUBSCRIPTIONS",
    "WALLETS",
    "WALLET_TRANSACTIONS",
    "LandingKind",
    "UnreadableFileError",
    "landing_files",
    "sql_string",
    "stage_file",
]
