"""Hostile and broken input end to end (issue #6, part 3): one landing folder holds every hostile
row beside good rows; October 2026 is closed and finalized once for the module, through the CLI.

Every hostile row lands in `billing.rejected_inputs` with its reason (docs/bad-input.md), or is
stored verbatim and rendered harmless; the good rows of the same files are billed. The loader-level
cases, format by format, are in tests/orchestration/test_hostile_landing.py; docs/bad-input.md says
what happens to each kind of bad input.

Numbers, worked out by hand from seeds/catalog (the billing entity's invoice prefix replaced by
`../../evil'/`, see HOSTILE_PREFIX):
- One customer (USD, UTC, no tax codes: no tax) with an id holding `../`, quotes and SQL, a
  name made of reportlab markup and an address line of 5,000 characters. Subscription
  starter_usd (49.00 a month in advance, tokens: package 0.02 per 1,000, 50,000 free) from
  Oct 1 00:00, terminated Oct 20 15:00 UTC.
- Oct 1 invoice: October's fee in advance, 49.00 (no tax), total 49.00.
- Termination credit note on that invoice (docs/rules.md §16, as tests/integration/
  test_subscription_timelines.py::test_9_termination_in_advance_credit_note_with_tax):
  Oct 1..20 used (termination day included), 11 of 31 days unused: 49 x 11 / 31 = 17.387...
  -> 17.39.
- Oct 20 termination invoice: the usage only. Billed tokens: NDJSON 20,000 + 10,000 (SQL in its
  transaction_id and a property key) + 1,000 (1 MB property) + 2,000 (200-level nesting) + 3
  (Lago's {"event": ...} body) = 33,003; CSV 20,000 + 7,000 = 27,000; Parquet 20,000 + 3 =
  20,003. Units 80,006 in 9 events; 30,006 over the free 50,000 -> ceil(30.006) = 31 packages x
  0.02 = 0.62. The credit note pays it: credit notes 0.62, total 0.00, balance left
  17.39 - 0.62 = 16.77.
"""

import csv
import io
import json
from datetime import date
from decimal import Decimal
from pathlib import Path

import pyarrow as pa
import pyarrow.parquet as pq
import pytest
from conftest import query
from pypdf import PdfReader

from orchestration.accounting import check_ledger
from orchestration.settings import REPO_ROOT

pytestmark = pytest.mark.integration

HOSTILE_PREFIX = "../../evil'/"
# _safe_file_name keeps letters, digits and "-_.": every "/" and "'" becomes "_".
SAFE_PREFIX = ".._.._evil__"
CUSTOMER_ID = "../../cust'); drop table raw.customers; --"
CUSTOMER_NAME = "<font size=80>Evil</font> & <b>"
LEGAL_NAME = "<img src='/etc/passwd'/> Ltd"
LONG_ADDRESS = "Suite " + "9" * 5_000  # taller than a page unless cut (invoice_render.layout)
SUBSCRIPTION_ID = "sub/../../x'; drop table raw.subscriptions; --"
GHOST_SUBSCRIPTION_ID = "sub_ghost'; drop table raw.subscriptions; --"
SQL_TRANSACTION_ID = "x'); drop table raw.events; --"
SQL_PROPERTY_KEY = "a'b\"c); drop table raw.events; --"


def _event(transaction_id: str, tokens: int | str, day: int = 2, **changes: object) -> dict:
    return {
        "transaction_id": transaction_id,
        "external_subscription_id": SUBSCRIPTION_ID,
        "code": "tokens",
        "timestamp": f"2026-10-{day:02d}T10:00:00Z",
        "properties": {"tokens": tokens},
        **changes,
    }


def _line(row: dict) -> bytes:
    return json.dumps(row).encode()


def _nested(levels: int) -> dict:
    inner: dict = {"leaf": True}
    for _ in range(levels - 1):
        inner = {"n": inner}
    return inner


def _csv(rows: list[list[str]]) -> bytes:
    buffer = io.StringIO()
    csv.writer(buffer, lineterminator="\n").writerows(rows)
    return buffer.getvalue().encode()


EVENT_COLUMNS = ["transaction_id", "external_subscription_id", "code", "timestamp", "properties"]


def _csv_event(transaction_id: str, tokens: int, timestamp: str = "2026-10-05T10:00:00Z") -> list:
    return [transaction_id, SUBSCRIPTION_ID, "tokens", timestamp, json.dumps({"tokens": tokens})]


# (source_file, line_number, reason): every row the close must quarantine, and nothing else.
EXPECTED_REJECTIONS = {
    ("customers/b_customers.ndjson", 1, "malformed"),  # not UTF-8
    ("customers/b_customers.ndjson", 2, "bad_value"),  # name is a JSON object
    ("subscriptions/subscriptions.ndjson", 2, "bad_timestamp"),  # started in 1969
    ("events/a_hostile.ndjson", 2, "malformed"),  # broken JSON
    ("events/a_hostile.ndjson", 3, "malformed"),  # not UTF-8 (latin-1 é)
    ("events/a_hostile.ndjson", 4, "missing_field"),  # no code
    ("events/a_hostile.ndjson", 5, "bad_value"),  # transaction_id is an object
    ("events/a_hostile.ndjson", 6, "bad_value"),  # properties is a string
    ("events/a_hostile.ndjson", 7, "bad_timestamp"),  # year 0001
    ("events/a_hostile.ndjson", 8, "bad_timestamp"),  # 1969
    ("events/a_hostile.ndjson", 9, "future_timestamp"),  # 9999
    ("events/a_hostile.ndjson", 10, "future_timestamp"),  # 2100
    ("events/a_hostile.ndjson", 11, "bad_timestamp"),  # "infinity"
    ("events/a_hostile.ndjson", 12, "unknown_metric"),
    ("events/a_hostile.ndjson", 13, "unknown_subscription"),
    ("events/a_hostile.ndjson", 17, "conflicting_duplicate"),  # line 1's id, other payload
    ("events/a_hostile.ndjson", 20, "bad_value"),  # 40 digits: beyond what can be billed
    ("events/a_hostile.ndjson", 21, "bad_value"),  # 42 digits
    ("events/b_hostile.csv", 3, "malformed"),  # not UTF-8
    ("events/b_hostile.csv", 4, "bad_value"),  # properties is not JSON
    ("events/b_hostile.csv", 5, "malformed"),  # one field too many
    ("events/b_hostile.csv", 7, "future_timestamp"),  # 2100
    ("events/b_hostile.csv", 8, "malformed"),  # unbalanced quote, to the end of the file
    ("events/c_hostile.parquet", 2, "malformed"),  # transaction_id bytes are not UTF-8
    ("events/c_hostile.parquet", 3, "future_timestamp"),  # 2100, as a Parquet timestamp
    ("events/d_not_parquet.parquet", None, "malformed"),  # not a Parquet file at all
}


def build_hostile_landing(landing: Path) -> None:
    """Good rows and hostile rows side by side, in NDJSON, CSV and Parquet."""
    customers = landing / "customers"
    customers.mkdir(parents=True)
    good_customer = {
        "external_customer_id": CUSTOMER_ID,
        "name": CUSTOMER_NAME,
        "legal_name": LEGAL_NAME,
        "email": "ap@evil.example",
        "address_line1": "1 <br/> Street",
        "address_line2": LONG_ADDRESS,
        "city": "Springfield",
        "zipcode": "12345",
        "country": "US",
        "currency": "USD",
        "timezone": "",
        "tax_codes": "",
        "updated_at": "2026-07-01T00:00:00Z",
    }
    (customers / "a_customers.csv").write_bytes(
        _csv([list(good_customer), list(good_customer.values())])
    )
    (customers / "b_customers.ndjson").write_bytes(
        b'{"external_customer_id": "c_latin1", "name": "Caf\xe9", "currency": "USD"}\n'
        + _line({"external_customer_id": "c_nested", "name": {"first": "A"}, "currency": "USD"})
        + b"\n"
    )

    subscriptions = landing / "subscriptions"
    subscriptions.mkdir()
    (subscriptions / "subscriptions.ndjson").write_bytes(
        _line(
            {
                "external_subscription_id": SUBSCRIPTION_ID,
                "external_customer_id": CUSTOMER_ID,
                "plan_code": "starter_usd",
                "started_at": "2026-10-01T00:00:00Z",
                "terminated_at": "2026-10-20T15:00:00Z",
            }
        )
        + b"\n"
        + _line(
            {
                "external_subscription_id": GHOST_SUBSCRIPTION_ID,
                "external_customer_id": CUSTOMER_ID,
                "plan_code": "starter_usd",
                "started_at": "1969-12-31T00:00:00Z",
            }
        )
        + b"\n"
    )

    events = landing / "events"
    events.mkdir()
    first = _event("t1", 20000)
    ndjson = [
        _line(first),  # 1: billed
        b"{broken json",  # 2
        b'{"transaction_id": "caf\xe9", "external_subscription_id": "s", "code": "tokens"}',  # 3
        _line({k: v for k, v in _event("t4", 1).items() if k != "code"}),  # 4
        _line({**_event("t5", 1), "transaction_id": {"nested": 1}}),  # 5
        _line(_event("t6", 1, properties="text")),  # 6
        _line(_event("t7", 1, timestamp="0001-01-01T00:00:00Z")),  # 7
        _line(_event("t8", 1, timestamp="1969-12-31T23:59:59Z")),  # 8
        _line(_event("t9", 1, timestamp="9999-12-31T23:59:59Z")),  # 9
        _line(_event("t10", 1, timestamp="2100-01-01T00:00:00Z")),  # 10
        _line(_event("t11", 1, timestamp="infinity")),  # 11
        _line(_event("t12", 1, code="no_such_metric'; --")),  # 12
        _line(_event("t13", 1, external_subscription_id=GHOST_SUBSCRIPTION_ID)),  # 13
        # 14: billed; SQL in the id and in a property key.
        _line(_event(SQL_TRANSACTION_ID, 10000, properties={"tokens": 10000, SQL_PROPERTY_KEY: 1})),
        _line(_event("t15", 1000, properties={"tokens": 1000, "blob": "x" * 1_000_000})),  # 15
        _line(_event("t16", 2000, properties={"tokens": 2000, **_nested(200)})),  # 16
        _line({**first, "properties": {"tokens": 1}}),  # 17: conflicting duplicate
        _line(first),  # 18: exact duplicate, dropped
        _line({"event": _event("t19", 3, day=19)}),  # 19: billed
        # 20, 21: numbers beyond decimal(38, 9) failed the whole close (a Conversion Error);
        # they are loaded, billed nowhere and quarantined as bad_value at the close (issue 13).
        _line(_event("t20", "1" * 40)),  # a numeric string
        _line(_event("t21", 10**41)),  # a JSON number
    ]
    (events / "a_hostile.ndjson").write_bytes(b"\n".join(ndjson) + b"\n")

    (events / "b_hostile.csv").write_bytes(
        _csv([EVENT_COLUMNS, _csv_event("c1", 20000)])  # lines 1-2
        + b"c2,s,tok\xe9ns,2026-10-05T10:00:00Z,\n"  # 3
        + _csv([["c3", SUBSCRIPTION_ID, "tokens", "2026-10-05T10:00:00Z", "{broken"]])  # 4
        + _csv([[*_csv_event("c4", 1), "one too many"]])  # 5
        + _csv([_csv_event("c5", 7000)])  # 6: billed, keeps its own line number
        + _csv([_csv_event("c6", 1, "2100-01-01T00:00:00Z")])  # 7
        + b'c7,s,"tokens,2026-10-05T10:00:00Z,{}\n'  # 8: the quote never closes
    )

    # Parquet: a transaction_id that is not UTF-8 (row 2) and a typed timestamp column.
    ids = [b"p1", b"p\xe92", b"p3", b"p4"]
    offsets = pa.array([0, 2, 5, 7, 9], pa.int32()).buffers()[1]
    transaction_ids = pa.Array.from_buffers(
        pa.string(), len(ids), [None, offsets, pa.py_buffer(b"".join(ids))]
    )
    pq.write_table(
        pa.table(
            {
                "transaction_id": transaction_ids,
                "external_subscription_id": [SUBSCRIPTION_ID] * 4,
                "code": ["tokens"] * 4,
                "timestamp": pa.array(
                    [
                        "2026-10-06T10:00:00",
                        "2026-10-06T10:00:00",
                        "2100-01-01T00:00:00",
                        "2026-10-07T10:00:00",
                    ]
                ).cast(pa.timestamp("us")),
                "properties": [json.dumps({"tokens": n}) for n in (20000, 1, 1, 3)],
            }
        ),
        events / "c_hostile.parquet",
    )
    (events / "d_not_parquet.parquet").write_bytes(b"PAR1 this is not a parquet file")


@pytest.fixture(scope="module")
def hostile(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Path]:
    """The hostile landing folder, closed for October 2026 and finalized, through the CLI."""
    from orchestration.cli import main

    root = tmp_path_factory.mktemp("hostile")
    catalog = root / "catalog"
    catalog.mkdir()
    for source in (REPO_ROOT / "seeds" / "catalog").glob("*.csv"):
        text = source.read_text()
        if source.name == "billing_entity.csv":
            assert ",LUM,per_customer" in text
            text = text.replace(",LUM,per_customer", f",{HOSTILE_PREFIX},per_customer")
        (catalog / source.name).write_text(text)
    build_hostile_landing(root / "work" / "landing")
    locations = {
        "catalog": catalog,
        "landing": root / "work" / "landing",
        "warehouse": root / "work" / "warehouse.duckdb",
        "output": root / "work" / "output",
    }
    args = [f"--{name}={path}" for name, path in locations.items()]
    assert main(["close", "--month", "2026-10", *args]) == 0
    assert main(["finalize", "--month", "2026-10", *args]) == 0
    return {**locations, "root": root}


def test_every_hostile_row_is_quarantined_with_its_reason(hostile):
    rows = query(
        hostile["warehouse"],
        "select source_file, line_number, reason from billing.rejected_inputs",
    )
    assert len(rows) == len(set(rows))
    assert set(rows) == EXPECTED_REJECTIONS


def test_quarantined_rows_keep_their_raw_text(hostile):
    raw = dict(
        query(
            hostile["warehouse"],
            "select source_file || ':' || coalesce(cast(line_number as varchar), '-'), raw "
            "from billing.rejected_inputs",
        )
    )
    assert raw["events/a_hostile.ndjson:2"] == "{broken json"
    # Bytes that are not UTF-8 are spelled as escapes, so the text itself is valid.
    assert raw["events/a_hostile.ndjson:3"] == (
        '{"transaction_id": "caf\\xe9", "external_subscription_id": "s", "code": "tokens"}'
    )
    assert "tok" in raw["events/b_hostile.csv:3"] and raw["events/b_hostile.csv:3"].startswith(
        "c2,s,"
    )
    assert raw["events/b_hostile.csv:8"] is None  # the tail after a quote that never closes
    assert raw["events/d_not_parquet.parquet:-"] is None
    detail = query(
        hostile["warehouse"],
        "select detail from billing.rejected_inputs where source_file = ?",
        ["events/d_not_parquet.parquet"],
    )
    assert detail[0][0].startswith("the file could not be read:")


def test_sql_in_ids_and_property_keys_is_stored_verbatim(hostile):
    warehouse = hostile["warehouse"]
    # Every raw table still exists, and the hostile ids are plain values in them.
    stored = query(
        warehouse,
        "select transaction_id, properties from raw.events "
        "where external_subscription_id = ? and transaction_id = ?",
        [SUBSCRIPTION_ID, SQL_TRANSACTION_ID],
    )
    assert [(id_, json.loads(properties)) for id_, properties in stored] == [
        (SQL_TRANSACTION_ID, {"tokens": 10000, SQL_PROPERTY_KEY: 1})
    ]
    assert query(warehouse, "select external_customer_id, name from raw.customers") == [
        (CUSTOMER_ID, CUSTOMER_NAME)
    ]
    assert query(
        warehouse,
        "select count(*) from raw.subscriptions where external_subscription_id = ?",
        [SUBSCRIPTION_ID],
    ) == [(1,)]
    lineage = query(
        warehouse,
        "select events.transaction_id from billing.invoice_line_events as events "
        "where events.transaction_id = ?",
        [SQL_TRANSACTION_ID],
    )
    assert lineage == [(SQL_TRANSACTION_ID,)]
    huge_numbers = query(
        warehouse,
        "select transaction_id, json_extract_string(properties, '$.tokens') from raw.events "
        "where transaction_id in ('t20', 't21') order by transaction_id",
    )
    assert huge_numbers == [("t20", "1" * 40), ("t21", "1" + "0" * 41)]


def test_the_good_rows_of_the_same_files_are_billed(hostile):
    invoices = query(
        hostile["warehouse"],
        "select invoice_number, issuing_date, fees_amount, taxes_amount, credit_notes_amount, "
        "total_amount from billing.fct_invoices where external_customer_id = ? "
        "order by issuing_date",
        [CUSTOMER_ID],
    )
    d = Decimal
    assert [row[1:] for row in invoices] == [
        (date(2026, 10, 1), d("49.00"), d("0.00"), d("0.00"), d("49.00")),
        (date(2026, 10, 20), d("0.62"), d("0.00"), d("0.62"), d("0.00")),
    ]
    assert [row[0] for row in invoices] == [
        f"{HOSTILE_PREFIX}-001-001",
        f"{HOSTILE_PREFIX}-001-002",
    ]
    lines = query(
        hostile["warehouse"],
        "select coalesce(metric_code, 'fee'), units, events_count, precise_amount, amount "
        "from billing.fct_invoice_lines where external_subscription_id = ? "
        "order by from_datetime, metric_code nulls first",
        [SUBSCRIPTION_ID],
    )
    assert lines == [
        ("fee", d("1"), 0, d("49"), d("49.00")),
        ("tokens", d("80006"), 9, d("0.62"), d("0.62")),
    ]


def test_the_termination_credit_note_is_issued(hostile):
    notes = query(
        hostile["warehouse"],
        "select credit_note_number, reason, total_amount, balance_amount "
        "from billing.fct_credit_notes where external_customer_id = ?",
        [CUSTOMER_ID],
    )
    assert notes == [
        (f"{HOSTILE_PREFIX}-001-001-CN001", "termination", Decimal("17.39"), Decimal("16.77"))
    ]


def test_path_separators_in_numbers_and_ids_stay_inside_the_output_folder(hostile):
    output = hostile["output"]
    assert sorted(p.name for p in (output / "invoices" / "2026-10").iterdir()) == [
        f"{SAFE_PREFIX}-001-001.pdf",
        f"{SAFE_PREFIX}-001-002.pdf",
    ]
    assert [p.name for p in (output / "credit_notes" / "2026-10").iterdir()] == [
        f"{SAFE_PREFIX}-001-001-CN001.pdf"
    ]
    # Nothing was written beside or above the locations the close was given.
    root = hostile["root"]
    assert sorted(p.name for p in root.iterdir()) == ["catalog", "work"]
    assert sorted(p.name for p in (root / "work").iterdir()) == [
        "dagster_home",
        "landing",
        "logs",  # dbt's per-model lines of each run (docs/month-review.md)
        "output",
        "warehouse.duckdb",
        "warehouse.duckdb.lock",  # one run at a time (docs/operations.md)
    ]
    pdfs = [p.relative_to(output).as_posix() for p in output.rglob("*.pdf")]
    assert sorted(pdfs) == [
        f"credit_notes/2026-10/{SAFE_PREFIX}-001-001-CN001.pdf",
        f"invoices/2026-10/{SAFE_PREFIX}-001-001.pdf",
        f"invoices/2026-10/{SAFE_PREFIX}-001-002.pdf",
    ]


def _pdf_text(path: Path) -> str:
    return " ".join(" ".join(page.extract_text().split()) for page in PdfReader(path).pages)


@pytest.mark.parametrize(
    "document",
    [
        f"invoices/2026-10/{SAFE_PREFIX}-001-001.pdf",
        f"credit_notes/2026-10/{SAFE_PREFIX}-001-001-CN001.pdf",
    ],
)
def test_markup_in_customer_names_renders_literally(hostile, document):
    text = _pdf_text(hostile["output"] / document)
    assert CUSTOMER_NAME in text
    assert LEGAL_NAME in text
    assert "1 <br/> Street" in text
    assert "Suite 999" in text and "9…" in text.replace(" ", "")  # cut, not a LayoutError
    assert f"{HOSTILE_PREFIX}-001-001" in text


def test_the_ledger_with_hostile_names_passes_bean_check(hostile):
    ledger = hostile["output"] / "accounting" / "ledger.beancount"
    assert check_ledger(ledger) == []
    text = ledger.read_text()
    assert text.count(f'invoice_number: "{HOSTILE_PREFIX}-001-00') == 2
