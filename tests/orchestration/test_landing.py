"""Loading landing files: the same rows in any format, idempotent, nothing lost (docs/inputs.md)."""

import json
import os
from datetime import datetime
from decimal import Decimal
from pathlib import Path

import duckdb
import pyarrow as pa
import pyarrow.csv
import pyarrow.parquet
import pytest

from orchestration.landing.catalog import CatalogError, load_catalog
from orchestration.landing.loader import load_folder
from orchestration.landing.readers import LANDING_KINDS
from orchestration.settings import REPO_ROOT

EVENT = {
    "transaction_id": "t1",
    "external_subscription_id": "s1",
    "code": "tokens",
    "timestamp": "2026-10-01T10:00:00.5+02:00",
    "properties": {"tokens": 12},
}


def _events(conn: duckdb.DuckDBPyConnection) -> list[tuple]:
    return conn.execute(
        "select transaction_id, code, event_timestamp, properties, line_number from raw.events"
    ).fetchall()


def test_ndjson_csv_and_parquet_load_to_the_same_rows(tmp_path: Path):
    rows = {}
    for suffix in ("ndjson", "csv", "parquet"):
        folder = tmp_path / suffix / "events"
        folder.mkdir(parents=True)
        path = folder / f"e.{suffix}"
        if suffix == "ndjson":
            path.write_text(json.dumps({"event": EVENT}) + "\n")
        else:
            table = pa.Table.from_pylist([{**EVENT, "properties": json.dumps(EVENT["properties"])}])
            if suffix == "csv":
                pa.csv.write_csv(table, path)
            else:
                pyarrow.parquet.write_table(table, path)
        conn = duckdb.connect()
        stats = load_folder(conn, "events", folder)
        assert stats.rows_loaded == 1 and stats.rows_rejected == 0
        rows[suffix] = [row[:4] for row in _events(conn)]
    assert rows["ndjson"] == rows["csv"] == rows["parquet"]
    assert str(rows["csv"][0][2]) == "2026-10-01 08:00:00.500000"  # offset applied, stored in UTC


def test_loading_twice_or_repeating_rows_changes_nothing(tmp_path: Path):
    folder = tmp_path / "events"
    folder.mkdir()
    (folder / "a.ndjson").write_text(json.dumps(EVENT) + "\n" + json.dumps(EVENT) + "\n")
    conn = duckdb.connect()
    first = load_folder(conn, "events", folder)
    assert (first.rows_read, first.rows_loaded, first.rows_duplicate) == (2, 1, 1)
    assert load_folder(conn, "events", folder).files_loaded == 0  # same file: skipped
    (folder / "b.ndjson").write_text(json.dumps({**EVENT, "timestamp": 1790000000}) + "\n")
    (folder / "c.ndjson").write_text(json.dumps(EVENT) + "\n")
    again = load_folder(conn, "events", folder)
    assert again.rows_duplicate == 1  # c repeats t1 exactly
    assert again.rejected_by_reason == {"conflicting_duplicate": 1}  # b: same id, other time
    assert len(_events(conn)) == 1


@pytest.mark.parametrize(
    ("line", "reason"),
    [
        ("{not json", "malformed"),
        ('["an", "array"]', "malformed"),
        ('{"transaction_id": "t", "code": "c", "timestamp": "2026-10-01"}', "missing_field"),
        (
            '{"transaction_id": "t", "external_subscription_id": "s", "code": "c", '
            '"timestamp": "2026-02-30T00:00:00Z"}',
            "bad_timestamp",
        ),
        (
            '{"transaction_id": "t", "external_subscription_id": "s", "code": "c", '
            '"timestamp": "1960-01-01T00:00:00Z"}',
            "bad_timestamp",
        ),
        (
            '{"transaction_id": "t", "external_subscription_id": "s", "code": "c", '
            '"timestamp": "2090-01-01T00:00:00Z"}',
            "future_timestamp",
        ),
        (
            '{"transaction_id": "t", "external_subscription_id": "s", "code": "c", '
            '"timestamp": "2026-10-01", "properties": "text"}',
            "bad_value",
        ),
        (
            '{"transaction_id": "t", "external_subscription_id": "s", "code": "c", '
            '"timestamp": "2026-10-01", "operation_type": "multiply"}',
            "bad_value",
        ),
    ],
)
def test_each_bad_row_gets_its_reason_and_the_rest_still_loads(tmp_path: Path, line, reason):
    folder = tmp_path / "events"
    folder.mkdir()
    (folder / "a.ndjson").write_text(json.dumps(EVENT) + "\n" + line + "\n")
    conn = duckdb.connect()
    stats = load_folder(conn, "events", folder)
    assert stats.rows_loaded == 1
    assert stats.rejected_by_reason == {reason: 1}
    rejected = conn.execute(
        "select source_file, line_number, raw, reason from raw.rejected_inputs"
    ).fetchall()
    assert rejected == [("events/a.ndjson", 2, line, reason)]


def _catalog(tmp_path: Path, **replacements: str) -> Path:
    folder = tmp_path / "catalog"
    folder.mkdir()
    for source in (REPO_ROOT / "seeds" / "catalog").glob("*.csv"):
        text = source.read_text()
        for old, new in replacements.items():
            text = text.replace(old, new)
        (folder / source.name).write_text(text)
    return folder


def test_the_demo_catalog_is_valid(tmp_path: Path):
    counts = load_catalog(duckdb.connect(), _catalog(tmp_path))
    assert counts["charges"] > 10 and counts["charge_tiers"] > 10


@pytest.mark.parametrize(
    ("old", "new", "message"),
    [
        # §17b: volume charges cannot be paid in advance (charges.csv line 16).
        (
            "scale_gpu_seconds,scale_yearly_usd,gpu_seconds,volume,false",
            "scale_gpu_seconds,scale_yearly_usd,gpu_seconds,volume,true",
            "charges.csv line 16: §17b: volume charges cannot be paid in advance",
        ),
        # A gap between tiers (charge_tiers.csv line 5: 10001 -> 10002).
        (
            "starter_usd_api_calls,,10001,100000",
            "starter_usd_api_calls,,10002,100000",
            "charge_tiers.csv line 5: tiers must be contiguous",
        ),
        # An overlap: 0-10000, 9999-100000 (line 11). (A mix of the adjacent and the inclusive
        # joins, 0-10000, 10000-100000, 100001-, is accepted, as Lago's validator accepts it.)
        (
            "starter_jpy_api_calls,,10001,100000",
            "starter_jpy_api_calls,,9999,100000",
            "charge_tiers.csv line 11: tiers must be contiguous",
        ),
        # A bounded last tier (line 12).
        (
            "starter_jpy_api_calls,,100001,,",
            "starter_jpy_api_calls,,100001,200000,",
            "charge_tiers.csv line 12: the last tier must be unbounded",
        ),
        (
            "api_calls,API calls,count",
            "api_calls,API calls,median",
            "billable_metrics.csv line 2: aggregation must be",
        ),
    ],
)
def test_an_invalid_catalog_names_file_line_and_rule(tmp_path: Path, old, new, message):
    folder = _catalog(tmp_path, **{old: new})
    with pytest.raises(CatalogError) as error:
        load_catalog(duckdb.connect(), folder)
    assert message in str(error.value)


# One valid row per remaining landing folder of docs/inputs.md all fields as text.
GOOD_ROWS = {
    "applied_coupons": {
        "external_customer_id": "c1",
        "coupon_code": "welcome",
        "applied_at": "2026-10-01T00:00:00Z",
        "amount_override": "5",
        "percentage_rate_override": "",
    },
    "wallets": {
        "wallet_code": "w1",
        "external_customer_id": "c1",
        "currency": "usd",
        "rate_amount": "1.5",
        "priority": "",
        "allowed_line_types": "Charge | subscription",
        "metric_codes": "tokens|api_calls",
        "created_at": "2026-10-01T00:00:00Z",
        "expires_at": "2027-10-01T00:00:00Z",
    },
    "wallet_transactions": {
        "wallet_code": "w1",
        "transaction_type": "purchased",
        "credits": "10.5",
        "created_at": "2026-10-01T00:00:00Z",
        "paid_at": "",
    },
    "credit_notes": {
        "invoice_id": "",
        "invoice_number": "MH-202610-001",
        "invoice_line_id": "",
        "amount": "12.50",
        "reason": "Service outage",
        "created_at": "2026-11-03T09:00:00Z",
    },
    "alerts": {
        "alert_code": "spend",
        "external_subscription_id": "s1",
        "wallet_code": "",
        "alert_type": " Current_Usage_Amount",
        "metric_code": "",
        "name": "Spend",
        "threshold_code": "warn",
        "threshold_value": "1500.5",
        "recurring": "TRUE",
        "updated_at": "2026-10-01T00:00:00Z",
    },
}

# What each good row becomes in its raw table (before the lineage columns).
GOOD_RAW = {
    "applied_coupons": ("c1", "welcome", datetime(2026, 10, 1), Decimal(5), None),
    "wallets": (
        "w1",
        "c1",
        "USD",
        Decimal("1.5"),
        None,  # empty priority: staging applies Lago's default 50
        "charge|subscription",
        "api_calls|tokens",
        datetime(2026, 10, 1),
        datetime(2027, 10, 1),
    ),
    "wallet_transactions": ("w1", "purchased", Decimal("10.5"), datetime(2026, 10, 1), None),
    "credit_notes": (
        None,
        "MH-202610-001",
        None,
        Decimal("12.5"),
        "Service outage",
        datetime(2026, 11, 3, 9),
    ),
    # Value and flag beside their text: an alert is judged whole in dbt (docs/inputs.md).
    "alerts": (
        "spend",
        "s1",
        None,
        "current_usage_amount",
        None,
        "Spend",
        "warn",
        "1500.5",
        Decimal("1500.5"),
        "TRUE",
        True,
        datetime(2026, 10, 1),
    ),
}


def _raw_rows(conn: duckdb.DuckDBPyConnection, kind: str) -> list[tuple]:
    columns = ", ".join(name for name, _ in LANDING_KINDS[kind].table_columns)
    return conn.execute(f"select {columns} from raw.{kind} order by line_number").fetchall()


def _write(folder: Path, name: str, rows: list[dict[str, str]]) -> None:
    folder.mkdir(parents=True, exist_ok=True)
    path = folder / name
    if path.suffix == ".ndjson":
        path.write_text("".join(json.dumps(row) + "\n" for row in rows))
    elif path.suffix == ".csv":
        pa.csv.write_csv(pa.Table.from_pylist(rows), path)
    else:
        pyarrow.parquet.write_table(pa.Table.from_pylist(rows), path)


@pytest.mark.parametrize("kind", list(GOOD_ROWS))
@pytest.mark.parametrize("suffix", ["ndjson", "csv", "parquet"])
def test_a_good_row_of_each_new_folder_loads_from_every_format(tmp_path: Path, kind, suffix):
    folder = tmp_path / kind
    _write(folder, f"a.{suffix}", [GOOD_ROWS[kind]])
    conn = duckdb.connect()
    stats = load_folder(conn, kind, folder)
    assert (stats.rows_loaded, stats.rows_rejected) == (1, 0)
    assert _raw_rows(conn, kind) == [GOOD_RAW[kind]]


def test_every_landing_folder_has_an_empty_raw_table_without_files(tmp_path: Path):
    conn = duckdb.connect()
    load_folder(conn, "events", tmp_path / "events")
    for kind in ("applied_coupons", "wallets", "wallet_transactions", "credit_notes"):
        assert _raw_rows(conn, kind) == []


BAD_ROWS = [
    ("applied_coupons", {"external_customer_id": ""}, "missing_field"),
    ("applied_coupons", {"coupon_code": " "}, "missing_field"),
    ("applied_coupons", {"applied_at": ""}, "missing_field"),
    ("applied_coupons", {"applied_at": "2026-13-01"}, "bad_timestamp"),
    ("applied_coupons", {"applied_at": "1960-01-01"}, "bad_timestamp"),
    ("applied_coupons", {"amount_override": "-1"}, "bad_value"),
    ("applied_coupons", {"amount_override": "five"}, "bad_value"),
    ("applied_coupons", {"percentage_rate_override": "100.5"}, "bad_value"),
    ("applied_coupons", {"percentage_rate_override": "-10"}, "bad_value"),
    ("wallets", "{not json", "malformed"),
    ("wallets", {"wallet_code": ""}, "missing_field"),
    ("wallets", {"external_customer_id": ""}, "missing_field"),
    ("wallets", {"currency": ""}, "missing_field"),
    ("wallets", {"rate_amount": ""}, "missing_field"),
    ("wallets", {"created_at": ""}, "missing_field"),
    ("wallets", {"created_at": "yesterday"}, "bad_timestamp"),
    ("wallets", {"created_at": "1969-12-31T00:00:00Z"}, "bad_timestamp"),
    ("wallets", {"expires_at": "soon"}, "bad_timestamp"),
    ("wallets", {"currency": "XYZ"}, "bad_value"),
    ("wallets", {"rate_amount": "0"}, "bad_value"),
    ("wallets", {"rate_amount": "one"}, "bad_value"),
    ("wallets", {"priority": "0"}, "bad_value"),
    ("wallets", {"priority": "2.5"}, "bad_value"),
    ("wallets", {"priority": "high"}, "bad_value"),
    ("wallets", {"allowed_line_types": "charge|add_on"}, "bad_value"),
    ("wallets", {"expires_at": "2026-09-30T23:59:59Z"}, "bad_value"),
    ("wallet_transactions", {"wallet_code": ""}, "missing_field"),
    ("wallet_transactions", {"transaction_type": ""}, "missing_field"),
    ("wallet_transactions", {"credits": ""}, "missing_field"),
    ("wallet_transactions", {"created_at": ""}, "missing_field"),
    ("wallet_transactions", {"created_at": "2026-02-30"}, "bad_timestamp"),
    ("wallet_transactions", {"paid_at": "later"}, "bad_timestamp"),
    ("wallet_transactions", {"transaction_type": "refunded"}, "bad_value"),
    ("wallet_transactions", {"credits": "0"}, "bad_value"),
    ("wallet_transactions", {"credits": "-3"}, "bad_value"),
    ("wallet_transactions", {"credits": "ten"}, "bad_value"),
    (
        "wallet_transactions",
        {"transaction_type": "granted", "paid_at": "2026-10-02T00:00:00Z"},
        "bad_value",
    ),
    ("credit_notes", {"amount": ""}, "missing_field"),
    ("credit_notes", {"created_at": ""}, "missing_field"),
    ("credit_notes", {"invoice_id": "", "invoice_number": ""}, "missing_field"),
    ("credit_notes", {"created_at": "2026-11-31"}, "bad_timestamp"),
    ("credit_notes", {"amount": "0"}, "bad_value"),
    ("credit_notes", {"amount": "-12.50"}, "bad_value"),
    ("credit_notes", {"amount": "twelve"}, "bad_value"),
    # Only what ties a threshold to an alert version is judged at load.
    ("alerts", {"alert_code": ""}, "missing_field"),
    ("alerts", {"external_subscription_id": "", "wallet_code": ""}, "missing_field"),
    ("alerts", {"updated_at": ""}, "missing_field"),
    ("alerts", {"updated_at": "someday"}, "bad_timestamp"),
    ("alerts", {"threshold_code": {"nested": 1}}, "bad_value"),
]


@pytest.mark.parametrize(("kind", "change", "reason"), BAD_ROWS)
def test_each_bad_row_of_the_new_folders_gets_its_reason(tmp_path: Path, kind, change, reason):
    folder = tmp_path / kind
    folder.mkdir()
    line = change if isinstance(change, str) else json.dumps({**GOOD_ROWS[kind], **change})
    (folder / "a.ndjson").write_text(json.dumps(GOOD_ROWS[kind]) + "\n" + line + "\n")
    conn = duckdb.connect()
    stats = load_folder(conn, kind, folder)
    assert stats.rows_loaded == 1
    assert stats.rejected_by_reason == {reason: 1}
    rejected = conn.execute(
        "select input_kind, source_file, line_number, raw, reason from raw.rejected_inputs"
    ).fetchall()
    assert rejected == [(kind, f"{kind}/a.ndjson", 2, line, reason)]


@pytest.mark.parametrize(
    ("kind", "same", "conflicting"),
    [
        # The same values written differently are the same row.
        ("applied_coupons", {"amount_override": "5.00"}, {"amount_override": "6"}),
        ("wallets", {"currency": "USD", "rate_amount": "1.50"}, {"rate_amount": "2"}),
        ("credit_notes", {"amount": "12.5"}, {"reason": "Goodwill"}),
    ],
)
def test_new_folders_drop_exact_duplicates_and_reject_conflicting_ones(
    tmp_path: Path, kind, same, conflicting
):
    folder = tmp_path / kind
    _write(folder, "a.ndjson", [GOOD_ROWS[kind]])
    conn = duckdb.connect()
    assert load_folder(conn, kind, folder).rows_loaded == 1
    assert load_folder(conn, kind, folder).files_loaded == 0  # same file: skipped
    _write(folder, "b.csv", [{**GOOD_ROWS[kind], **same}])
    again = load_folder(conn, kind, folder)
    assert (again.rows_loaded, again.rows_duplicate, again.rows_rejected) == (0, 1, 0)
    _write(folder, "c.ndjson", [{**GOOD_ROWS[kind], **conflicting}])
    conflict = load_folder(conn, kind, folder)
    assert conflict.rejected_by_reason == {"conflicting_duplicate": 1}
    assert _raw_rows(conn, kind) == [GOOD_RAW[kind]]
    assert conn.execute("select source_file from raw.rejected_inputs").fetchall() == [
        (f"{kind}/c.ndjson",)
    ]


def test_a_paid_purchase_re_sent_with_paid_at_is_a_second_raw_row(tmp_path: Path):
    folder = tmp_path / "wallet_transactions"
    unpaid = GOOD_ROWS["wallet_transactions"]
    paid = {**unpaid, "paid_at": "2026-10-03T12:00:00Z"}
    _write(folder, "a.ndjson", [unpaid])
    conn = duckdb.connect()
    load_folder(conn, "wallet_transactions", folder)
    _write(folder, "b.ndjson", [unpaid, paid, {**paid, "credits": "10.50"}])
    stats = load_folder(conn, "wallet_transactions", folder)
    assert (stats.rows_loaded, stats.rows_duplicate, stats.rows_rejected) == (1, 2, 0)
    assert _raw_rows(conn, "wallet_transactions") == [
        GOOD_RAW["wallet_transactions"],
        (*GOOD_RAW["wallet_transactions"][:4], datetime(2026, 10, 3, 12)),
    ]
    # Every field of a movement is part of its key, so a different value is another movement.
    _write(folder, "c.ndjson", [{**unpaid, "credits": "11"}])
    assert load_folder(conn, "wallet_transactions", folder).rows_loaded == 1


def test_a_file_copied_without_its_mtime_is_not_read_again(tmp_path: Path):
    folder = tmp_path / "events"
    folder.mkdir()
    path = folder / "a.ndjson"
    path.write_text(json.dumps(EVENT) + "\n")
    conn = duckdb.connect()
    assert load_folder(conn, "events", folder).rows_loaded == 1
    # Copied over itself without its modification time (cp without -p, a re-sync, a touch).
    path.write_bytes(path.read_bytes())
    os.utime(path, (1_900_000_000, 1_900_000_000))
    # And under another name.
    (folder / "b.ndjson").write_bytes(path.read_bytes())
    again = load_folder(conn, "events", folder)
    assert (again.files_seen, again.files_loaded, again.rows_read) == (2, 0, 0)
    assert len(_events(conn)) == 1
    # Both names are remembered: the next load does not even hash them.
    recorded = conn.execute(
        "select source_file, rows_read from raw.loaded_files order by source_file, loaded_at"
    ).fetchall()
    assert recorded == [("events/a.ndjson", 1), ("events/a.ndjson", 0), ("events/b.ndjson", 0)]
    # A file whose content changed is read again.
    path.write_text(json.dumps({**EVENT, "transaction_id": "t2"}) + "\n")
    assert load_folder(conn, "events", folder).rows_loaded == 1


def test_a_bad_timestamp_names_its_column_and_value(tmp_path: Path):
    folder = tmp_path / "events"
    folder.mkdir()
    (folder / "a.ndjson").write_text(json.dumps({**EVENT, "timestamp": "yesterday"}) + "\n")
    conn = duckdb.connect()
    assert load_folder(conn, "events", folder).rejected_by_reason == {"bad_timestamp": 1}
    detail = conn.execute("select detail from raw.rejected_inputs").fetchone()[0]
    assert detail.endswith('(column timestamp = "yesterday")')


@pytest.mark.parametrize(
    ("kind", "change"),
    [(kind, change) for kind, change, reason in BAD_ROWS if reason == "missing_field"],
)
def test_a_missing_field_names_its_column(tmp_path: Path, kind, change):
    folder = tmp_path / kind
    folder.mkdir()
    (folder / "a.ndjson").write_text(json.dumps({**GOOD_ROWS[kind], **change}) + "\n")
    conn = duckdb.connect()
    assert load_folder(conn, kind, folder).rejected_by_reason == {"missing_field": 1}
    detail = conn.execute("select detail from raw.rejected_inputs").fetchone()[0]
    assert detail.endswith(f"(column {' or '.join(change)})"), detail


def test_an_event_without_its_subscription_names_the_column(tmp_path: Path):
    folder = tmp_path / "events"
    folder.mkdir()
    (folder / "a.ndjson").write_text(json.dumps({**EVENT, "external_subscription_id": ""}) + "\n")
    conn = duckdb.connect()
    assert load_folder(conn, "events", folder).rejected_by_reason == {"missing_field": 1}
    detail = conn.execute("select detail from raw.rejected_inputs").fetchone()[0]
    assert detail == "a required field is missing or empty (column external_subscription_id)"
