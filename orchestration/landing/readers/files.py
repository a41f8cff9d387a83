"""Which landing files are read, in which order, and staging one by its format."""

from pathlib import Path

import duckdb

from orchestration.landing.readers.csv_file import stage_csv
from orchestration.landing.readers.kinds import LandingKind
from orchestration.landing.readers.ndjson import stage_ndjson
from orchestration.landing.readers.parquet import stage_parquet

FORMATS = {".ndjson": "ndjson", ".jsonl": "ndjson", ".csv": "csv", ".parquet": "parquet"}


def landing_files(folder: Path) -> list[Path]:
    """Supported files of a landing folder, in load order (lexicographic by relative path)."""
    if not folder.is_dir():
        return []
    return sorted(
        (p for p in folder.rglob("*") if p.is_file() and p.suffix.lower() in FORMATS),
        key=lambda p: p.relative_to(folder).as_posix(),
    )


def stage_file(conn: duckdb.DuckDBPyConnection, kind: LandingKind, path: Path) -> None:
    """Create temp table `staged_text` from one file (all contract fields as text).

    `has_nested_value` flags a row whose scalar field holds a JSON object or array (or a Parquet
    struct, list or map): such a row is quarantined as bad_value rather than billed with the JSON
    text as, say, its transaction_id. JSON numbers and booleans are taken as their text.
    """
    fmt = FORMATS[path.suffix.lower()]
    if fmt == "ndjson":
        stage_ndjson(conn, kind, path)
    elif fmt == "csv":
        stage_csv(conn, kind, path)
    else:
        stage_parquet(conn, kind, path)
