"""Loading landing files: the same rows in any format, idempotent, nothing lost (CONTRACT §3)."""

import json
from pathlib import Path

import duckdb
import pyarrow as pa
import pyarrow.parquet
import pytest

from orchestration.landing.catalog import CatalogError, load_catalog
from orchestration.landing.loader import load_folder
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
        # Mixed conventions overlap: 0-10000, 10000-100000, 100001- (line 11).
        (
            "starter_jpy_api_calls,,10001,100000",
            "starter_jpy_api_calls,,10000,100000",
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
