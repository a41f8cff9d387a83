"""Load landing folders into `raw.*`: idempotent, validated, deduplicated, nothing lost.

Per file, in one transaction: stage (DuckDB) -> type (SQL) -> validate (pandera schema) ->
quarantine failures in `raw.rejected_inputs` -> drop exact duplicates -> reject conflicting
duplicates -> insert the rest -> record the file in `raw.loaded_files`.

A file is new by its content: one whose SHA-256 was loaded before (copied without its
modification time, renamed, touched) is recorded under its name and time without being read
again. The hash is only computed when name, size and modification time do not match a recorded
file. A file that changed is read again, and the duplicate rules make re-reading rows harmless.
"""

import hashlib
from collections import Counter
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import cast

import duckdb
import pandera.errors
import pandera.polars
import polars as pl

from orchestration.faults import crash_point
from orchestration.landing import schemas
from orchestration.landing.readers import (
    LANDING_KINDS,
    LandingKind,
    UnreadableFileError,
    landing_files,
    stage_file,
)
from orchestration.sql_rows import one_row

LINEAGE_COLUMNS = (
    ("payload_hash", "varchar not null"),
    ("source_file", "varchar not null"),
    ("line_number", "bigint not null"),
    ("loaded_at", "timestamp not null"),
)

RAW_DDL = """
create schema if not exists raw;
create table if not exists raw.loaded_files (
    input_kind varchar not null,
    source_file varchar not null,
    file_size bigint not null,
    file_modified_at timestamp not null,
    loaded_at timestamp not null,
    rows_read bigint not null,
    rows_loaded bigint not null,
    rows_duplicate bigint not null,
    rows_rejected bigint not null,
    content_hash varchar
);
alter table raw.loaded_files add column if not exists content_hash varchar;
create table if not exists raw.rejected_inputs (
    rejected_input_id varchar not null,
    input_kind varchar not null,
    source_file varchar not null,
    line_number bigint,
    raw varchar,
    reason varchar not null,
    detail varchar not null,
    loaded_at timestamp not null
);
"""

SCHEMAS = {
    "events": schemas.event_schema,
    "customers": lambda _latest: schemas.customer_schema(),
    "subscriptions": lambda _latest: schemas.subscription_schema(),
    "applied_coupons": lambda _latest: schemas.applied_coupon_schema(),
    "wallets": lambda _latest: schemas.wallet_schema(),
    "wallet_transactions": lambda _latest: schemas.wallet_transaction_schema(),
    "credit_notes": lambda _latest: schemas.credit_note_schema(),
    "alerts": lambda _latest: schemas.alert_schema(),
}

# Events may be stamped up to this long after they were loaded (clock skew at the sender).
FUTURE_TOLERANCE = timedelta(days=1)


@dataclass(slots=True)
class LoadStats:
    """Counts for one landing folder: what was read, loaded, dropped and quarantined."""

    input_kind: str
    files_seen: int = 0
    files_loaded: int = 0
    rows_read: int = 0
    rows_loaded: int = 0
    rows_duplicate: int = 0
    rejected_by_reason: Counter[str] = field(default_factory=Counter)

    @property
    def rows_rejected(self) -> int:
        return sum(self.rejected_by_reason.values())

    def as_metadata(self) -> dict[str, int]:
        """Flat counts for Dagster asset metadata."""
        return {
            "files_seen": self.files_seen,
            "files_loaded": self.files_loaded,
            "rows_read": self.rows_read,
            "rows_loaded": self.rows_loaded,
            "rows_duplicate": self.rows_duplicate,
            "rows_rejected": self.rows_rejected,
            **{f"rejected_{reason}": n for reason, n in sorted(self.rejected_by_reason.items())},
        }


def ensure_raw_tables(conn: duckdb.DuckDBPyConnection) -> None:
    """Create the raw schema and every raw table (idempotent)."""
    conn.execute(RAW_DDL)
    for kind in LANDING_KINDS.values():
        columns = ",\n".join(f"{name} {ddl}" for name, ddl in kind.table_columns + LINEAGE_COLUMNS)
        conn.execute(f"create table if not exists raw.{kind.name} ({columns})")
        # A warehouse made before a column was added to the folder gets it (empty for old rows).
        existing = {
            row[0]
            for row in conn.execute(
                "select column_name from information_schema.columns "
                "where table_schema = 'raw' and table_name = ?",
                [kind.name],
            ).fetchall()
        }
        for name, ddl in kind.table_columns:
            if name not in existing:
                nullable = ddl.replace(" not null", "")
                conn.execute(f"alter table raw.{kind.name} add column {name} {nullable}")


def _key_match(kind: LandingKind, left: str, right: str) -> str:
    return " and ".join(f"{left}.{k} is not distinct from {right}.{k}" for k in kind.key)


def _payload_hash(kind: LandingKind) -> str:
    parts = [f"coalesce(cast({c} as varchar), '\\N')" for c in kind.payload]
    # concat_ws skips NULLs: an optional column that is not given leaves the hash as it was.
    parts += [f"cast({c} as varchar)" for c in kind.optional_payload]
    return f"md5(concat_ws('|', {', '.join(parts)}))"


def _bad_timestamp_column(frame: pl.DataFrame) -> pl.Series:
    """Per row, the first timestamp field that is given but not a timestamp (or before 1970),
    with its text: `timestamp = "yesterday"`. Typed timestamps sit beside their text as
    `<field>` or `event_<field>`, the text as `<field>_text`."""
    cases = []
    for text in (c for c in frame.columns if c.endswith("_text")):
        field = text.removesuffix("_text")
        typed = next(
            (c for c in (field, f"event_{field}") if frame.schema.get(c) == pl.Datetime("us")),
            None,
        )
        if typed is None:
            continue
        wrong = (pl.col(text).is_not_null() & pl.col(typed).is_null()) | (
            pl.col(typed) < schemas.EARLIEST_TIMESTAMP
        )
        cases.append(pl.when(wrong).then(pl.format('{} = "{}"', pl.lit(field), pl.col(text))))
    if not cases:
        return pl.Series("column_name", [None] * frame.height, dtype=pl.Utf8)
    return frame.select(pl.coalesce(cases).alias("column_name")).to_series()


def _missing_field_column(frame: pl.DataFrame, schema: pandera.polars.DataFrameSchema) -> pl.Series:
    """Per row, the first required field that is missing or blank, as the landing file names it
    (`timestamp`, not `timestamp_text`), read from the columns each missing_field check carries;
    `invoice_id or invoice_number` when one of several is required and none is given."""
    cases = []
    for check in schema.checks:
        if check.name != "missing_field":
            continue
        for column in (check.statistics or {}).get("columns", ()):
            blank = pl.col(column).is_null() | (pl.col(column).str.strip_chars() == "")
            cases.append(pl.when(blank).then(pl.lit(column.removesuffix("_text"))))
        one_of = (check.statistics or {}).get("one_of", ())
        if one_of:
            none_given = pl.all_horizontal(pl.col(column).is_null() for column in one_of)
            cases.append(pl.when(none_given).then(pl.lit(" or ".join(one_of))))
    if not cases:
        return pl.Series("column_name", [None] * frame.height, dtype=pl.Utf8)
    return frame.select(pl.coalesce(cases).alias("column_name")).to_series()


def _validate(conn: duckdb.DuckDBPyConnection, kind: LandingKind, loaded_at: datetime) -> None:
    """Run the kind's pandera schema over `typed`; write `row_rejections(line_number, reason,
    column_name)`: the column is the one that failed, named in the quarantined row's detail."""
    schema = schemas.with_scalar_fields(SCHEMAS[kind.name](loaded_at + FUTURE_TOLERANCE))
    columns = list(schema.columns)
    # from_arrow gives a DataFrame for a Table (a Series only for an Array).
    frame = cast(
        pl.DataFrame,
        pl.from_arrow(
            conn.sql(f"select line_number, {', '.join(columns)} from typed").to_arrow_table()
        ),
    )
    rejections = pl.DataFrame(
        {"line_number": [], "reason": [], "column_name": []},
        schema={"line_number": pl.Int64, "reason": pl.Utf8, "column_name": pl.Utf8},
    )
    try:
        schema.validate(frame.drop("line_number"), lazy=True)
    except pandera.errors.SchemaErrors as errors:
        priority = {reason: rank for rank, reason in enumerate(schemas.REASON_PRIORITY)}
        failures = errors.failure_cases.filter(pl.col("index").is_not_null())
        unexpected = set(failures["check"].unique().to_list()) - set(priority)
        if unexpected:  # a dtype or column problem is a bug in typing, not bad input
            raise RuntimeError(
                f"{kind.name} typing does not fit its schema: {unexpected}"
            ) from None
        first_failure = (
            failures.select(
                pl.col("index").cast(pl.Int64),
                pl.col("check").alias("reason"),
                pl.col("column").cast(pl.Utf8).alias("column_name"),
                pl.col("check").replace_strict(priority, return_dtype=pl.Int32).alias("rank"),
            )
            .sort("index", "rank")
            .unique("index", keep="first", maintain_order=True)
        )
        bad_timestamp_column = _bad_timestamp_column(frame).gather(first_failure["index"])
        missing_column = _missing_field_column(frame, schema).gather(first_failure["index"])
        rejections = pl.DataFrame(
            {
                "line_number": frame["line_number"].gather(first_failure["index"]),
                "reason": first_failure["reason"],
                "column_name": pl.select(
                    pl.when(first_failure["reason"] == "bad_timestamp")
                    .then(bad_timestamp_column)
                    .when(first_failure["reason"] == "missing_field")
                    .then(missing_column)
                    .otherwise(first_failure["column_name"])
                ).to_series(),
            }
        )
    conn.register("row_rejections_frame", rejections.to_arrow())
    conn.execute(
        "create or replace temp table row_rejections as select * from row_rejections_frame"
    )
    conn.unregister("row_rejections_frame")


def _quarantine(
    conn: duckdb.DuckDBPyConnection,
    kind: LandingKind,
    source_file: str,
    loaded_at: datetime,
    relation: str,
) -> None:
    """Append `relation` (line_number, reason, column_name) to raw.rejected_inputs, with the raw
    text; the detail names the failing column when the check had one."""
    conn.execute(
        f"""
        insert into raw.rejected_inputs
        select
            md5(concat_ws('|', ?, ?, r.line_number, r.reason, s.raw)) as rejected_input_id,
            ? as input_kind,
            ? as source_file,
            r.line_number,
            s.raw,
            r.reason,
            d.detail || coalesce(' (column ' || r.column_name || ')', '') as detail,
            ? as loaded_at
        from {relation} as r
        inner join staged_text as s on s.line_number = r.line_number
        inner join (select unnest(?) as reason, unnest(?) as detail) as d on d.reason = r.reason
        """,
        [
            kind.name,
            source_file,
            kind.name,
            source_file,
            loaded_at,
            list(schemas.REASON_DETAILS),
            list(schemas.REASON_DETAILS.values()),
        ],
    )


def _quarantine_file(
    conn: duckdb.DuckDBPyConnection,
    kind: LandingKind,
    source_file: str,
    loaded_at: datetime,
    error: str,
) -> LoadStats:
    """Record a file no row of which could be read: one `malformed` row, without a line."""
    detail = f"the file could not be read: {error.splitlines()[0] if error else 'unknown error'}"
    conn.execute(
        """
        insert into raw.rejected_inputs
        select md5(concat_ws('|', ?, ?, 'malformed', ?)), ?, ?, null, null, 'malformed', ?, ?
        """,
        [kind.name, source_file, detail, kind.name, source_file, detail, loaded_at],
    )
    stats = LoadStats(kind.name, files_seen=1, files_loaded=1)
    stats.rejected_by_reason["malformed"] = 1
    return stats


def stage_and_validate(
    conn: duckdb.DuckDBPyConnection, kind: LandingKind, path: Path, loaded_at: datetime
) -> None:
    """Stage, type and judge one file: temp tables `staged_text`, `typed` and `row_rejections`.

    The one statement of what a valid landing row is, shared by the load and by the HTTP API,
    which judges a request's rows with it before it acknowledges them (orchestration/api).
    """
    stage_file(conn, kind, path)
    conn.execute(
        f"""
        create or replace temp table typed as
        select *, {_payload_hash(kind)} as payload_hash
        from (
            select line_number, is_parseable, has_nested_value, {kind.typing_sql}
            from staged_text
        ) as typed_row
        """
    )
    _validate(conn, kind, loaded_at)


# Temp relations of one file's load, dropped when it is done.
WORK_TABLES = ("staged_text", "typed", "row_rejections", "key_stats", "classified")


def load_file(
    conn: duckdb.DuckDBPyConnection,
    kind: LandingKind,
    path: Path,
    source_file: str,
    loaded_at: datetime,
) -> LoadStats:
    """Load one file in the caller's transaction.

    Set-based, and sized for the bench (issue #6): rows are typed and hashed in one pass;
    duplicates are found with one aggregate per key, and only the few keys that repeat (in the
    file or against what was loaded before) are classified row by row. Everything else goes in
    straight from `typed`, in file order.
    """
    stats = LoadStats(kind.name, files_seen=1, files_loaded=1)
    stage_and_validate(conn, kind, path, loaded_at)
    key = ", ".join(kind.key)
    valid = "line_number not in (select line_number from row_rejections)"
    # Per key of the valid rows: how often the file has it, its first line and that line's payload,
    # and the payload loaded before (normally none). Only such keys can hold a duplicate.
    conn.execute(
        f"""
        create or replace temp table key_stats as
        with in_file as (
            select
                {key},
                count(*) as occurrences,
                min(line_number) as first_line,
                arg_min(payload_hash, line_number) as first_payload_hash
            from typed
            where {valid}
            group by {key}
        )
        select in_file.*, existing.payload_hash as existing_payload_hash
        from in_file
        left join raw.{kind.name} as existing on {_key_match(kind, "in_file", "existing")}
        where in_file.occurrences > 1 or existing.payload_hash is not null
        """
    )
    # The first row of a key decides against what was loaded before; later rows against the first.
    conn.execute(
        f"""
        create or replace temp table classified as
        select
            typed.line_number,
            case
                when coalesce(key_stats.existing_payload_hash, key_stats.first_payload_hash)
                        = typed.payload_hash
                    and (typed.line_number > key_stats.first_line
                        or key_stats.existing_payload_hash is not null) then 'duplicate'
                when coalesce(key_stats.existing_payload_hash, key_stats.first_payload_hash)
                    <> typed.payload_hash then 'conflicting_duplicate'
                else 'new'
            end as outcome
        from typed
        inner join key_stats on {_key_match(kind, "typed", "key_stats")}
        where typed.{valid}
        """
    )
    conn.execute(
        "insert into row_rejections (line_number, reason) select line_number, outcome "
        "from classified "
        "where outcome = 'conflicting_duplicate'"
    )
    _quarantine(conn, kind, source_file, loaded_at, "row_rejections")
    target_columns = ", ".join(name for name, _ in kind.table_columns)
    # Everything valid that is not a duplicate (conflicting ones are in row_rejections by now).
    inserted = one_row(
        conn.execute(
            f"""
        insert into raw.{kind.name} ({target_columns}, payload_hash, source_file, line_number,
                                     loaded_at)
        select {target_columns}, payload_hash, ?, line_number, ?
        from typed
        where {valid}
            and line_number not in (select line_number from classified where outcome = 'duplicate')
        """,
            [source_file, loaded_at],
        )
    )[0]
    stats.rows_read = one_row(conn.execute("select count(*) from staged_text"))[0]
    stats.rows_loaded = inserted
    stats.rows_duplicate = one_row(
        conn.execute("select count(*) from classified where outcome = 'duplicate'")
    )[0]
    stats.rejected_by_reason.update(
        dict(conn.execute("select reason, count(*) from row_rejections group by reason").fetchall())
    )
    for table in WORK_TABLES:
        conn.execute(f"drop table if exists temp.main.{table}")  # never a same-named main table
    return stats


def content_hash(path: Path) -> str:
    """The SHA-256 of a file's bytes, read in 1 MiB blocks."""
    digest = hashlib.sha256()
    with path.open("rb") as file:
        while block := file.read(1 << 20):
            digest.update(block)
    return digest.hexdigest()


def landing_first_start(folder: Path) -> str | None:
    """The month (YYYY-MM) of the earliest subscription start in a subscriptions/ folder, read
    without loading it (an in-memory DuckDB); None when there is none. Unreadable files and
    rows are skipped here: loading quarantines them."""
    kind = LANDING_KINDS["subscriptions"]
    earliest = None
    with duckdb.connect() as conn:
        conn.execute("set TimeZone = 'UTC'")
        for path in landing_files(folder):
            try:
                stage_file(conn, kind, path)
                # Only starts the loader would accept: a bad_timestamp row bills nothing.
                value = one_row(
                    conn.execute(
                        "select strftime(min(started_at), '%Y-%m') from "
                        f"(select is_parseable, {kind.typing_sql} from staged_text) "
                        "where is_parseable and started_at >= ?",
                        [schemas.EARLIEST_TIMESTAMP],
                    )
                )[0]
            except (UnreadableFileError, duckdb.Error):
                continue
            if value and (earliest is None or value < earliest):
                earliest = value
    return earliest


def load_folder(
    conn: duckdb.DuckDBPyConnection, kind_name: str, folder: Path, loaded_at: datetime | None = None
) -> LoadStats:
    """Load every new or changed file of one landing folder; return the counts."""
    kind = LANDING_KINDS[kind_name]
    loaded_at = loaded_at or datetime.now(UTC).replace(tzinfo=None, microsecond=0)
    conn.execute("set TimeZone = 'UTC'")
    ensure_raw_tables(conn)
    total = LoadStats(kind.name)
    for path in landing_files(folder):
        total.files_seen += 1
        source_file = path.relative_to(folder.parent).as_posix()
        stat = path.stat()
        modified_at = datetime.fromtimestamp(stat.st_mtime, UTC).replace(tzinfo=None)
        already = one_row(
            conn.execute(
                "select count(*) from raw.loaded_files where input_kind = ? and source_file = ? "
                "and file_size = ? and file_modified_at = ?",
                [kind.name, source_file, stat.st_size, modified_at],
            )
        )[0]
        if already:
            continue
        digest = content_hash(path)
        if one_row(
            conn.execute(
                "select count(*) from raw.loaded_files where input_kind = ? and content_hash = ?",
                [kind.name, digest],
            )
        )[0]:
            # Loaded before under this or another name: remember this name and time, read nothing.
            conn.execute(
                "insert into raw.loaded_files values (?, ?, ?, ?, ?, 0, 0, 0, 0, ?)",
                [kind.name, source_file, stat.st_size, modified_at, loaded_at, digest],
            )
            continue
        conn.execute("begin transaction")
        try:
            try:
                stats = load_file(conn, kind, path, source_file, loaded_at)
            except UnreadableFileError as error:
                # The reader's error aborted the transaction; start again and quarantine the
                # file as one row, so a corrupt upload does not stop every other file's load.
                conn.execute("rollback")
                conn.execute("begin transaction")
                stats = _quarantine_file(conn, kind, source_file, loaded_at, str(error))
            crash_point("landing_file_loading")  # rows inserted, file not recorded nor committed
            conn.execute(
                "insert into raw.loaded_files values (?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
                [
                    kind.name,
                    source_file,
                    stat.st_size,
                    modified_at,
                    loaded_at,
                    stats.rows_read,
                    stats.rows_loaded,
                    stats.rows_duplicate,
                    stats.rows_rejected,
                    digest,
                ],
            )
            conn.execute("commit")
        except BaseException:
            conn.execute("rollback")
            raise
        total.files_loaded += 1
        total.rows_read += stats.rows_read
        total.rows_loaded += stats.rows_loaded
        total.rows_duplicate += stats.rows_duplicate
        total.rejected_by_reason.update(stats.rejected_by_reason)
    return total
