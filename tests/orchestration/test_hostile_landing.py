"""Hostile and broken landing files, loader level (issue #6, part 3; docs/bad-input.md).

Each case: the hostile row is quarantined with its reason, or stored verbatim (harmless), and
the good rows of the same file still load, under their own line numbers. The same rows end to
end, through a close, are in tests/integration/test_hostile_input.py; docs/bad-input.md says what
happens to each kind of bad input.
"""

import json
from datetime import datetime
from pathlib import Path

import duckdb
import pyarrow as pa
import pyarrow.csv
import pyarrow.parquet as pq
import pytest
from test_landing import GOOD_ROWS

from orchestration.landing.loader import load_folder
from orchestration.landing.readers import LANDING_KINDS, csv_file

LOADED_AT = datetime(2026, 11, 21, 12, 0)  # "future" is judged against this
SQL = "x'); drop table raw.events; --"

GOOD = {
    "transaction_id": "g",
    "external_subscription_id": "s1",
    "code": "tokens",
    "timestamp": "2026-10-01T10:00:00Z",
    "properties": {"tokens": 12},
}


def _good(transaction_id: str) -> dict:
    return {**GOOD, "transaction_id": transaction_id}


def _bytes(row: dict | bytes | str) -> bytes:
    if isinstance(row, bytes):
        return row
    return (row if isinstance(row, str) else json.dumps(row)).encode()


def _ndjson(folder: Path, name: str, rows: list[dict | bytes | str]) -> Path:
    folder.mkdir(parents=True, exist_ok=True)
    path = folder / name
    path.write_bytes(b"".join(_bytes(row) + b"\n" for row in rows))
    return path


def _table(rows: list[dict]) -> pa.Table:
    return pa.Table.from_pylist(
        [{k: json.dumps(v) if isinstance(v, dict) else v for k, v in r.items()} for r in rows]
    )


def _write(path: Path, rows: list[dict]) -> None:
    """`rows` as NDJSON, CSV or Parquet, after the file's suffix."""
    path.parent.mkdir(parents=True, exist_ok=True)
    if path.suffix == ".ndjson":
        _ndjson(path.parent, path.name, rows)
    elif path.suffix == ".csv":
        pyarrow.csv.write_csv(_table(rows), path)
    else:
        pq.write_table(_table(rows), path)


def _load(folder: Path, kind: str = "events") -> tuple[duckdb.DuckDBPyConnection, dict]:
    conn = duckdb.connect()
    stats = load_folder(conn, kind, folder, loaded_at=LOADED_AT)
    return conn, {
        "read": stats.rows_read,
        "loaded": stats.rows_loaded,
        "rejected": dict(stats.rejected_by_reason),
    }


def _rejected(conn: duckdb.DuckDBPyConnection) -> list[tuple]:
    return conn.execute(
        "select source_file, line_number, reason from raw.rejected_inputs "
        "order by source_file, line_number"
    ).fetchall()


def _loaded(conn: duckdb.DuckDBPyConnection, kind: str = "events") -> list[tuple]:
    key = "transaction_id" if kind == "events" else LANDING_KINDS[kind].key[0]
    return conn.execute(
        f"select line_number, {key} from raw.{kind} order by line_number"
    ).fetchall()


# --- NDJSON: lines that are not a JSON object --------------------------------------------------


@pytest.mark.parametrize(
    "line",
    [
        b"{broken json",
        b'["an", "array"]',
        b'"a string"',
        b"null",
        b"42",
        b'{"transaction_id": "a\x01b", "code": "tokens"}',  # a raw control character
        b'{"transaction_id": "a\x00b", "code": "tokens"}',  # a raw NUL
        b'{"transaction_id": "a\rb", "code": "tokens"}',  # a lone CR (not a line break)
        b'{"transaction_id": "caf\xe9"}',  # latin-1, not UTF-8
        b'{"transaction_id": "\xff\xfe\xfd"}',
        b"\x89PNG\r\x1a\x00\x00\xff",  # binary
    ],
)
def test_a_line_that_is_not_a_json_object_is_malformed_and_the_rest_loads(tmp_path, line):
    folder = tmp_path / "events"
    _ndjson(folder, "a.ndjson", [_good("g1"), line, _good("g3")])
    conn, stats = _load(folder)
    assert stats == {"read": 3, "loaded": 2, "rejected": {"malformed": 1}}
    assert _rejected(conn) == [("events/a.ndjson", 2, "malformed")]
    assert _loaded(conn) == [(1, "g1"), (3, "g3")]  # the next line keeps its number


def test_bytes_that_are_not_utf8_are_kept_as_escapes_in_the_raw_text(tmp_path):
    folder = tmp_path / "events"
    _ndjson(folder, "a.ndjson", [b'{"transaction_id": "caf\xe9", "code": "\xff"}', _good("g2")])
    conn, _ = _load(folder)
    raw = conn.execute("select raw from raw.rejected_inputs").fetchall()
    assert raw == [('{"transaction_id": "caf\\xe9", "code": "\\xff"}',)]


def test_a_byte_order_mark_crlf_and_blank_lines_do_not_shift_line_numbers(tmp_path):
    folder = tmp_path / "events"
    folder.mkdir()
    lines = [json.dumps(_good("g1")), "", "   ", "{broken", json.dumps(_good("g5"))]
    (folder / "a.ndjson").write_bytes(b"\xef\xbb\xbf" + "\r\n".join(lines).encode())  # no final EOL
    conn, stats = _load(folder)
    assert stats == {"read": 3, "loaded": 2, "rejected": {"malformed": 1}}
    assert _rejected(conn) == [("events/a.ndjson", 4, "malformed")]
    assert _loaded(conn) == [(1, "g1"), (5, "g5")]


# --- wrong types -----------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("change", "reason"),
    [
        # A scalar field given as an object or array is not billed under its JSON text.
        ({"transaction_id": {"id": 1}}, "bad_value"),
        ({"transaction_id": ["g"]}, "bad_value"),
        ({"external_subscription_id": {"id": "s1"}}, "bad_value"),
        ({"code": ["tokens"]}, "bad_value"),
        ({"operation_type": {"op": "add"}}, "bad_value"),
        ({"operation_type": 7}, "bad_value"),
        ({"properties": "text"}, "bad_value"),
        ({"properties": ["tokens", 12]}, "bad_value"),
        ({"properties": 12}, "bad_value"),
        ({"precise_total_amount": "twelve"}, "bad_value"),
        ({"precise_total_amount": {"amount": 1}}, "bad_value"),
        ({"precise_total_amount": "1e40"}, "bad_value"),  # beyond decimal(38, 9)
        ({"timestamp": True}, "bad_timestamp"),
        ({"timestamp": {"at": "2026-10-01"}}, "bad_timestamp"),
        ({"timestamp": [2026, 10, 1]}, "bad_timestamp"),
    ],
)
def test_a_field_of_the_wrong_type_is_quarantined(tmp_path, change, reason):
    folder = tmp_path / "events"
    _ndjson(folder, "a.ndjson", [_good("g1"), {**_good("x"), **change}])
    conn, stats = _load(folder)
    assert stats["rejected"] == {reason: 1}
    assert _loaded(conn) == [(1, "g1")]


def test_a_number_where_text_is_expected_is_taken_as_its_text(tmp_path):
    folder = tmp_path / "events"
    _ndjson(folder, "a.ndjson", [{**GOOD, "transaction_id": 123, "external_subscription_id": 7}])
    conn, stats = _load(folder)
    assert stats["loaded"] == 1
    assert conn.execute(
        "select transaction_id, external_subscription_id from raw.events"
    ).fetchall() == [("123", "7")]


@pytest.mark.parametrize("suffix", ["csv", "parquet"])
def test_properties_that_are_not_json_in_csv_or_parquet_are_a_bad_value(tmp_path, suffix):
    # DuckDB evaluated json_type() on every row, even under `json_valid(p) and ...`: one such
    # row used to fail the whole file with "Malformed JSON".
    folder = tmp_path / "events"
    folder.mkdir()
    rows = [_good("g1"), {**_good("x"), "properties": "{broken"}, _good("g3")]
    path = folder / f"a.{suffix}"
    if suffix == "csv":
        pyarrow.csv.write_csv(_table(rows), path)
    else:
        pq.write_table(_table(rows), path)
    conn, stats = _load(folder)
    assert stats["rejected"] == {"bad_value": 1}
    line = 3 if suffix == "csv" else 2  # CSV line 1 is the header
    assert _rejected(conn) == [(f"events/a.{suffix}", line, "bad_value")]
    assert [row[1] for row in _loaded(conn)] == ["g1", "g3"]


def test_a_parquet_struct_or_list_in_a_scalar_field_is_a_bad_value(tmp_path):
    folder = tmp_path / "events"
    folder.mkdir()
    table = pa.table(
        {
            "transaction_id": pa.array([{"id": "a"}, None, {"id": "c"}]),
            "external_subscription_id": ["s1", "s1", "s1"],
            "code": [["tokens"], ["tokens"], None],
            "timestamp": ["2026-10-01T10:00:00Z"] * 3,
        }
    )
    pq.write_table(table, folder / "a.parquet")
    conn, stats = _load(folder)
    # Row 1: both nested. Row 2: no transaction_id. Row 3: a nested transaction_id, no code.
    assert _rejected(conn) == [
        ("events/a.parquet", 1, "bad_value"),
        ("events/a.parquet", 2, "missing_field"),
        ("events/a.parquet", 3, "missing_field"),
    ]
    assert stats["loaded"] == 0


# --- missing fields ----------------------------------------------------------------------------


@pytest.mark.parametrize(
    "field", ["transaction_id", "external_subscription_id", "code", "timestamp"]
)
@pytest.mark.parametrize("value", ["<absent>", None, "", "   "])
def test_a_required_field_absent_null_or_blank_is_missing(tmp_path, field, value):
    row = _good("x")
    if value == "<absent>":
        del row[field]
    else:
        row[field] = value
    folder = tmp_path / "events"
    _ndjson(folder, "a.ndjson", [_good("g1"), row])
    conn, stats = _load(folder)
    assert stats["rejected"] == {"missing_field": 1}
    assert _loaded(conn) == [(1, "g1")]


# --- timestamps far in the past or future ------------------------------------------------------

TIMESTAMPS = [
    ("0001-01-01T00:00:00Z", "bad_timestamp"),
    ("1969-12-31T23:59:59Z", "bad_timestamp"),
    ("1970-01-01T00:00:00Z", "bad_timestamp"),  # epoch 0: a default value, not a usage time
    (-1, "bad_timestamp"),
    (-62135596800, "bad_timestamp"),  # year 1 in Unix seconds
    ("2100-01-01T00:00:00Z", "future_timestamp"),
    (4102444800, "future_timestamp"),  # 2100 in Unix seconds
    ("9999-12-31T23:59:59Z", "future_timestamp"),
    ("2026-11-22T12:00:01Z", "future_timestamp"),  # a day and a second after loading
    # Parsed by DuckDB but out of Python's datetime range: polars panicked ("NaiveDateTime +
    # TimeDelta overflowed") while pandera reported them, failing the whole file.
    ("infinity", "bad_timestamp"),
    ("-infinity", "bad_timestamp"),
    ("99999-01-01T00:00:00Z", "bad_timestamp"),
    ("294247-01-10T04:00:54Z", "bad_timestamp"),
    ("0000-01-01T00:00:00Z", "bad_timestamp"),
    ("epoch", "bad_timestamp"),
    ("now", "bad_timestamp"),
    (1e300, "bad_timestamp"),
    ("2026-02-30T00:00:00Z", "bad_timestamp"),
]


@pytest.mark.parametrize("suffix", ["ndjson", "csv"])
@pytest.mark.parametrize(("timestamp", "reason"), TIMESTAMPS)
def test_timestamps_far_in_the_past_or_future_are_quarantined(tmp_path, suffix, timestamp, reason):
    folder = tmp_path / "events"
    rows = [_good("g1"), {**_good("x"), "timestamp": timestamp}, _good("g3")]
    if suffix == "ndjson":
        _ndjson(folder, "a.ndjson", rows)
    else:
        folder.mkdir()
        text_rows = [{**row, "timestamp": str(row["timestamp"])} for row in rows]
        pyarrow.csv.write_csv(_table(text_rows), folder / "a.csv")
    conn, stats = _load(folder)
    assert stats["rejected"] == {reason: 1}
    assert [row[1] for row in _loaded(conn)] == ["g1", "g3"]


@pytest.mark.parametrize(
    ("timestamp", "reason"),
    [
        (datetime(1, 1, 1), "bad_timestamp"),
        (datetime(1969, 12, 31, 23, 59, 59), "bad_timestamp"),
        (datetime(2100, 1, 1), "future_timestamp"),
        (datetime(9999, 12, 31, 23, 59, 59), "future_timestamp"),
    ],
)
def test_typed_parquet_timestamps_far_in_the_past_or_future_are_quarantined(
    tmp_path, timestamp, reason
):
    folder = tmp_path / "events"
    folder.mkdir()
    times = [datetime(2026, 10, 1, 10), timestamp, datetime(2026, 10, 2, 10)]
    table = _table([_good("g1"), _good("x"), _good("g3")]).set_column(
        3, "timestamp", pa.array(times, pa.timestamp("us"))
    )
    pq.write_table(table, folder / "a.parquet")
    conn, _stats = _load(folder)
    assert _rejected(conn) == [("events/a.parquet", 2, reason)]
    assert _loaded(conn) == [(1, "g1"), (3, "g3")]


@pytest.mark.parametrize(
    ("kind", "field"),
    [
        ("customers", "updated_at"),
        ("applied_coupons", "applied_at"),
        ("wallets", "created_at"),
        ("wallets", "expires_at"),
        ("wallet_transactions", "created_at"),
        ("credit_notes", "created_at"),
    ],
)
@pytest.mark.parametrize("value", ["infinity", "99999-01-01", "0001-01-01"])
def test_out_of_range_timestamps_of_every_folder_are_bad_timestamps(tmp_path, kind, field, value):
    good = {**GOOD_ROWS.get(kind, CUSTOMER)}
    folder = tmp_path / kind
    _ndjson(folder, "a.ndjson", [good, {**good, field: value}])
    _conn, stats = _load(folder, kind)
    assert stats["rejected"] == {"bad_timestamp": 1}
    assert stats["loaded"] == 1


# --- huge and deeply nested properties ---------------------------------------------------------


def _deep(levels: int) -> str:
    return '{"n":' * levels + "1" + "}" * levels


@pytest.mark.parametrize("suffix", ["ndjson", "csv", "parquet"])
@pytest.mark.parametrize("size", [1_000_000, 3_000_000])
def test_a_huge_property_value_is_kept(tmp_path, suffix, size):
    # A line over 2 MB used to fail the whole NDJSON or CSV file (DuckDB's max_line_size).
    folder = tmp_path / "events"
    folder.mkdir()
    rows = [_good("g1"), {**_good("big"), "properties": {"tokens": 3, "blob": "x" * size}}]
    rows.append(_good("g3"))
    path = folder / f"a.{suffix}"
    _write(path, rows)
    conn, stats = _load(folder)
    assert (stats["loaded"], stats["rejected"]) == (3, {})
    length = conn.execute(
        "select length(json_extract_string(properties, '$.blob')) from raw.events "
        "where transaction_id = 'big'"
    ).fetchone()
    assert length == (size,)


@pytest.mark.parametrize("levels", [200, 10_000])
def test_deeply_nested_properties_are_kept(tmp_path, levels):
    folder = tmp_path / "events"
    row = {k: v for k, v in _good("deep").items() if k != "properties"}
    line = json.dumps(row)[:-1] + f', "properties": {{"tokens": 5, "n": {_deep(levels)}}}}}'
    _ndjson(folder, "a.ndjson", [_good("g1"), line])
    conn, stats = _load(folder)
    assert (stats["loaded"], stats["rejected"]) == (2, {})
    assert conn.execute(
        "select json_extract_string(properties, '$.tokens') from raw.events "
        "where transaction_id = 'deep'"
    ).fetchall() == [("5",)]


def test_a_csv_record_over_the_line_limit_is_malformed_and_the_rest_loads(tmp_path, monkeypatch):
    monkeypatch.setattr(csv_file, "MAX_LINE_BYTES", 4096)
    folder = tmp_path / "events"
    folder.mkdir()
    rows = [_good("g1"), {**_good("big"), "properties": {"blob": "x" * 10_000}}, _good("g3")]
    pyarrow.csv.write_csv(_table(rows), folder / "a.csv")
    conn, _stats = _load(folder)
    assert _rejected(conn) == [("events/a.csv", 3, "malformed")]
    assert _loaded(conn) == [(2, "g1"), (4, "g3")]


# --- quotes and SQL in every identifier, property key and file name ---------------------------

HOSTILE_TEXTS = [
    SQL,
    "'; drop table raw.rejected_inputs; --",
    'quote " and \\ backslash',
    "$.properties",  # a JSON path
    "../../etc/passwd",
    "tab\tand\nnewline",
    "ünïcødé ✓ 𝄞",
]


@pytest.mark.parametrize("suffix", ["ndjson", "csv", "parquet"])
def test_quotes_and_sql_in_every_identifier_are_stored_verbatim(tmp_path, suffix):
    folder = tmp_path / "events"
    folder.mkdir()
    rows = [
        {
            "transaction_id": text,
            "external_subscription_id": text,
            "code": text,
            "timestamp": "2026-10-01T10:00:00Z",
            "operation_type": "add",
            "properties": {text: text, "tokens": 1},
        }
        for text in HOSTILE_TEXTS
    ]
    path = folder / f"it's; drop table raw.events; --.{suffix}"
    _write(path, rows)
    conn, stats = _load(folder)
    assert (stats["loaded"], stats["rejected"]) == (len(HOSTILE_TEXTS), {})
    stored = conn.execute(
        "select transaction_id, external_subscription_id, code, properties, source_file "
        "from raw.events order by line_number"
    ).fetchall()
    assert [(r[0], r[1], r[2], json.loads(r[3])) for r in stored] == [
        (text, text, text, {text: text, "tokens": 1}) for text in HOSTILE_TEXTS
    ]
    assert {r[4] for r in stored} == {f"events/{path.name}"}
    tables = conn.execute(
        "select table_name from information_schema.tables where table_schema = 'raw'"
    ).fetchall()
    assert {"events", "rejected_inputs", "loaded_files"} <= {t[0] for t in tables}


def test_quotes_and_sql_in_column_names_are_harmless(tmp_path):
    folder = tmp_path / "events"
    folder.mkdir()
    extra = 'x"); drop table raw.events; --'
    rows = [{**_good("g1"), extra: "1", "transaction_id_1": "ignored"}]
    pyarrow.csv.write_csv(_table(rows), folder / "a.csv")
    pq.write_table(_table([{**_good("g2"), extra: "2"}]), folder / "b.parquet")
    conn, stats = _load(folder)
    assert (stats["loaded"], stats["rejected"]) == (2, {})
    assert sorted(row[1] for row in _loaded(conn)) == ["g1", "g2"]


def test_sql_in_a_quarantined_row_is_stored_verbatim(tmp_path):
    folder = tmp_path / "events"
    line = '{"transaction_id": "' + SQL + '", "code": "tokens"}'  # no subscription: missing
    _ndjson(folder, "a.ndjson", [line])
    conn, _ = _load(folder)
    assert conn.execute("select raw, reason from raw.rejected_inputs").fetchall() == [
        (line, "missing_field")
    ]


CUSTOMER = {
    "external_customer_id": "c1",
    "name": "Acme",
    "currency": "USD",
    "updated_at": "2026-07-01T00:00:00Z",
}


@pytest.mark.parametrize("suffix", ["ndjson", "csv"])
def test_markup_quotes_and_separators_in_customer_fields_are_stored_verbatim(tmp_path, suffix):
    folder = tmp_path / "customers"
    folder.mkdir()
    text = "<font size=80>Evil</font> & <b> ../'\"; drop table raw.customers; --"
    row = {
        **CUSTOMER,
        "external_customer_id": f"../../{text}",
        "name": text,
        "legal_name": text,
        "address_line1": text,
        "email": text,
    }
    if suffix == "ndjson":
        _ndjson(folder, "a.ndjson", [row])
    else:
        pyarrow.csv.write_csv(_table([row]), folder / "a.csv")
    conn, stats = _load(folder, "customers")
    assert (stats["loaded"], stats["rejected"]) == (1, {})
    assert conn.execute(
        "select external_customer_id, name, legal_name, address_line1, email from raw.customers"
    ).fetchall() == [(f"../../{text}", text, text, text, text)]


# --- non-UTF-8 bytes, per format ---------------------------------------------------------------


def test_a_csv_record_that_is_not_utf8_is_malformed_and_later_rows_keep_their_lines(tmp_path):
    # Rows after a record DuckDB rejected used to be numbered as if it did not exist, so the next
    # good row shared the rejected line's number and was dropped with it.
    folder = tmp_path / "events"
    folder.mkdir()
    header = b"transaction_id,external_subscription_id,code,timestamp\n"
    row = "{},s1,tokens,2026-10-01T10:00:00Z\n".format
    (folder / "a.csv").write_bytes(
        header
        + row("g2").encode()
        + b"caf\xe9,s1,tokens,2026-10-01T10:00:00Z\n"
        + row("g4").encode()
        + b"g5,s1,tokens,2026-10-01T10:00:00Z,one too many\n"
        + row("g6").encode()
    )
    conn, stats = _load(folder)
    assert stats == {"read": 5, "loaded": 3, "rejected": {"malformed": 2}}
    assert _rejected(conn) == [("events/a.csv", 3, "malformed"), ("events/a.csv", 5, "malformed")]
    assert _loaded(conn) == [(2, "g2"), (4, "g4"), (6, "g6")]


def _strings_with_bytes(values: list[bytes]) -> pa.Array:
    """A Parquet string column holding arbitrary bytes (writers rarely check UTF-8)."""
    offsets = [0]
    for value in values:
        offsets.append(offsets[-1] + len(value))
    return pa.Array.from_buffers(
        pa.string(),
        len(values),
        [None, pa.array(offsets, pa.int32()).buffers()[1], pa.py_buffer(b"".join(values))],
    )


def test_a_parquet_string_that_is_not_utf8_is_malformed_and_the_rest_loads(tmp_path):
    # DuckDB's read_parquet refused the whole file ("Invalid string encoding found").
    folder = tmp_path / "events"
    folder.mkdir()
    table = _table([_good("g1"), _good("x"), _good("g3")]).set_column(
        0, "transaction_id", _strings_with_bytes([b"g1", b"caf\xe9", b"g3"])
    )
    pq.write_table(table, folder / "a.parquet")
    conn, stats = _load(folder)
    assert stats["rejected"] == {"malformed": 1}
    assert _rejected(conn) == [("events/a.parquet", 2, "malformed")]
    assert _loaded(conn) == [(1, "g1"), (3, "g3")]


def test_a_parquet_binary_column_is_decoded_as_utf8(tmp_path):
    folder = tmp_path / "events"
    folder.mkdir()
    table = _table([_good("g1"), _good("x")]).set_column(
        0, "transaction_id", pa.array(["café ✓".encode(), b"\xff"], pa.binary())
    )
    pq.write_table(table, folder / "a.parquet")
    conn, stats = _load(folder)
    assert stats["rejected"] == {"malformed": 1}
    assert _loaded(conn) == [(1, "café ✓")]


@pytest.mark.parametrize("kind", list(LANDING_KINDS))
def test_every_folder_quarantines_lines_that_are_not_utf8_or_nest_a_scalar(tmp_path, kind):
    good = GOOD_ROWS.get(kind) or (CUSTOMER if kind == "customers" else None)
    good = good or {"events": GOOD, "subscriptions": SUBSCRIPTION}[kind]
    scalar = LANDING_KINDS[kind].key[0]
    folder = tmp_path / kind
    _ndjson(
        folder,
        "a.ndjson",
        [good, b'{"' + scalar.encode() + b'": "caf\xe9"}', {**good, scalar: {"nested": "x"}}],
    )
    conn, stats = _load(folder, kind)
    assert stats["loaded"] == 1
    assert _rejected(conn) == [
        (f"{kind}/a.ndjson", 2, "malformed"),
        (f"{kind}/a.ndjson", 3, "bad_value"),
    ]


SUBSCRIPTION = {
    "external_subscription_id": "s1",
    "external_customer_id": "c1",
    "plan_code": "starter_usd",
    "started_at": "2026-10-01T00:00:00Z",
}


# --- CSV quoting -------------------------------------------------------------------------------


def test_an_unbalanced_quote_rejects_its_record_not_the_file(tmp_path):
    # DuckDB's sniffer, seeing the stray quote, chose "no quoting" for the whole file: every good
    # row's quoted JSON properties became a bad_value, and the broken row was loaded.
    folder = tmp_path / "events"
    folder.mkdir()
    written = folder / "written.csv"
    pyarrow.csv.write_csv(_table([_good(f"g{i}") for i in range(1, 5)]), written)
    header, g1, g2, g3, g4 = written.read_text().splitlines()
    written.unlink()
    broken = 'x,s1,"tokens,2026-10-01T10:00:00Z,{}'
    (folder / "a.csv").write_text("\n".join([header, g1, broken, g2, g3, g4]) + "\n")
    conn, _stats = _load(folder)
    # The open quote runs to the next quote (g2's properties): that record is lines 3-4.
    assert _rejected(conn) == [("events/a.csv", 3, "malformed")]
    assert [row[1] for row in _loaded(conn)] == ["g1", "g3", "g4"]


def test_a_quote_that_never_closes_quarantines_the_rest_of_the_file(tmp_path):
    # DuckDB drops everything after a quote that never closes, silently (no row, no reject).
    folder = tmp_path / "events"
    folder.mkdir()
    (folder / "a.csv").write_text(
        "transaction_id,external_subscription_id,code,timestamp\n"
        "g1,s1,tokens,2026-10-01T10:00:00Z\n"
        'g2,s1,"tokens,2026-10-01T10:00:00Z\n'
        "g3,s1,tokens,2026-10-01T10:00:00Z\n"
    )
    conn, stats = _load(folder)
    assert stats == {"read": 2, "loaded": 1, "rejected": {"malformed": 1}}
    assert _rejected(conn) == [("events/a.csv", 3, "malformed")]
    assert _loaded(conn) == [(2, "g1")]


@pytest.mark.parametrize("delimiter", [",", ";", "\t", "|"])
def test_the_delimiter_comes_from_the_header_and_a_stray_quote_cannot_change_it(
    tmp_path, delimiter
):
    folder = tmp_path / "events"
    folder.mkdir()
    rows = [
        ["transaction_id", "external_subscription_id", "code", "timestamp", "properties"],
        ["g1", "s1", "tokens", "2026-10-01T10:00:00Z", '"{""tokens"": 1}"'],
        ['"x', "s1", "tokens", "2026-10-01T10:00:00Z", '"{}"'],
        ["g3", "s1", "tokens", "2026-10-01T10:00:00Z", '"{""tokens"": 3}"'],
        ["g4", "s1", "tokens", "2026-10-01T10:00:00Z", '"{""tokens"": 4}"'],
    ]
    (folder / "a.csv").write_text("".join(delimiter.join(row) + "\n" for row in rows))
    conn, _stats = _load(folder)
    assert _rejected(conn) == [("events/a.csv", 3, "malformed")]
    assert conn.execute(
        "select line_number, transaction_id, properties from raw.events order by line_number"
    ).fetchall() == [
        (2, "g1", '{"tokens":1}'),
        (4, "g3", '{"tokens":3}'),
        (5, "g4", '{"tokens":4}'),
    ]


# --- files no row of which can be read ---------------------------------------------------------


@pytest.mark.parametrize(
    ("name", "content"),
    [
        ("b.parquet", b""),
        ("b.parquet", b"PAR1 not really parquet"),
        ("b.parquet", b"\x00" * 100),
        ("b.csv", bytes(range(256)) * 20),
        ("b.csv", b"transaction_id,code\r\ng1,tok\rens\r\n"),  # a lone CR (strict RFC 4180)
    ],
)
def test_an_unreadable_file_is_one_malformed_row_and_the_other_files_load(tmp_path, name, content):
    folder = tmp_path / "events"
    _ndjson(folder, "a.ndjson", [_good("g1")])
    (folder / name).write_bytes(content)
    _ndjson(folder, "c.ndjson", [_good("g3")])
    conn, stats = _load(folder)
    assert stats["loaded"] == 2 and stats["rejected"] == {"malformed": 1}
    rejected = conn.execute(
        "select source_file, line_number, raw, reason, detail from raw.rejected_inputs"
    ).fetchall()
    assert [row[:4] for row in rejected] == [(f"events/{name}", None, None, "malformed")]
    assert rejected[0][4].startswith("the file could not be read: ")
    # The file is recorded as loaded: it is read again only once it changes.
    assert load_folder(conn, "events", folder, loaded_at=LOADED_AT).files_loaded == 0


@pytest.mark.parametrize("suffix", ["ndjson", "csv"])
def test_an_empty_file_or_a_lone_header_has_no_rows(tmp_path, suffix):
    folder = tmp_path / "events"
    folder.mkdir()
    (folder / f"a.{suffix}").write_bytes(b"")
    (folder / f"b.{suffix}").write_bytes(b"transaction_id,code\n" if suffix == "csv" else b"\n\n")
    _conn, stats = _load(folder)
    assert stats == {"read": 0, "loaded": 0, "rejected": {}}
