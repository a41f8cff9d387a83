"""The monthly close end to end through the CLI, checked against numbers worked out by hand.

Catalog: seeds/catalog. October 2026.
- cust_us (USD, UTC, us_ca_sales 7.25 %), starter_usd (49.00 in advance) from Oct 1 00:00:
  Oct 1 invoice: the October fee, full (started on the period start): 49.00, tax 3.5525 -> 3.55.
  Nov 1 invoice: 12,345 API calls on 0-10000 @0 / 10001-100000 @0.001 (inclusive convention):
  12345 - 10001 + 1 = 2,345 units in tier 2 -> 2.345 -> 2.35; tokens 3 x 30,001 = 90,003,
  50,000 free, 40,003 paid -> ceil(40.003) = 41 packages x 0.02 = 0.82; the November fee 49.00.
  Fees 52.17; tax 49 x 7.25 % + 2.35 x 7.25 % + 0.82 x 7.25 % = 3.782325 -> 3.78; total 55.95.
- cust_de (EUR, Europe/Berlin, de_vat 19 %), team_eur (99.00 in arrears) from Oct 10 12:00 UTC
  (14:00 local): fee 99 x 22/31 = 70.258064516 -> 70.26; 3 unique users x 4.00 = 12.00; peak
  streams max(4, "7") = 7 x 5.00 = 35.00 (the 20 streams at 11:59:59 UTC precede the start).
  Fees 117.26; tax 22.2794 -> 22.28; total 139.54.
- cust_jp (JPY, Asia/Tokyo, jp_ct 10 %), starter_jpy (7,500 in advance) from Oct 1 00:00 JST:
  Oct 1 invoice 7,500 + tax 750 = 8,250. Nov 1 invoice: 2,345 calls x 0.15 = 351.75 -> 352 JPY,
  the November fee 7,500: fees 7,852; tax 750 + 35.2 = 785.2 -> 785; total 8,637.
"""

import json
import os
import subprocess
from datetime import date
from decimal import Decimal
from pathlib import Path

import duckdb
import pytest
from conftest import INVOICE_SNAPSHOT, query

from orchestration.accounting import check_ledger
from orchestration.cli import main
from orchestration.project import DBT_EXECUTABLE
from orchestration.settings import REPO_ROOT

pytestmark = pytest.mark.integration

EXPECTED_INVOICES = {
    # (customer, issuing date): (number, fees, taxes, total)
    ("cust_us", date(2026, 10, 1)): ("LUM-001-001", "49.00", "3.55", "52.55"),
    ("cust_us", date(2026, 11, 1)): ("LUM-001-002", "52.17", "3.78", "55.95"),
    ("cust_de", date(2026, 11, 1)): ("LUM-002-001", "117.26", "22.28", "139.54"),
    ("cust_jp", date(2026, 10, 1)): ("LUM-003-001", "7500", "750", "8250"),
    ("cust_jp", date(2026, 11, 1)): ("LUM-003-002", "7852", "785", "8637"),
}


def test_invoices_match_the_hand_computed_totals(scenario):
    rows = query(
        scenario["warehouse"],
        "select external_customer_id, issuing_date, invoice_number, fees_amount, taxes_amount, "
        "total_amount, status, billing_month from billing.fct_invoices",
    )
    found = {(r[0], r[1]): (r[2], r[3], r[4], r[5]) for r in rows}
    assert found == {
        key: (number, Decimal(fees), Decimal(taxes), Decimal(total))
        for key, (number, fees, taxes, total) in EXPECTED_INVOICES.items()
    }
    assert {(r[6], r[7]) for r in rows} == {("finalized", date(2026, 10, 1))}


def test_lines_carry_units_events_and_precise_amounts(scenario):
    rows = query(
        scenario["warehouse"],
        "select external_subscription_id, coalesce(metric_code, 'fee'), units, events_count, "
        "precise_amount, amount from billing.fct_invoice_lines "
        "where issuing_date = date '2026-11-01'",
    )
    lines = {(r[0], r[1]): r[2:] for r in rows}
    d = Decimal
    assert lines[("sub_us", "api_calls")] == (d("12345"), 12345, d("2.345"), d("2.35"))
    assert lines[("sub_us", "tokens")] == (d("90003"), 3, d("0.82"), d("0.82"))
    assert lines[("sub_us", "fee")] == (d("1"), 0, d("49"), d("49"))
    assert lines[("sub_de", "fee")] == (d("1"), 0, d("70.258064516"), d("70.26"))
    assert lines[("sub_de", "active_users")] == (d("3"), 5, d("12"), d("12"))
    assert lines[("sub_de", "peak_streams")] == (d("7"), 2, d("35"), d("35"))
    assert lines[("sub_jp", "api_calls")] == (d("12345"), 12345, d("351.75"), d("352"))


def test_every_bad_row_is_quarantined_with_its_reason(scenario):
    reasons = dict(
        query(
            scenario["warehouse"],
            "select reason, count(*) from billing.rejected_inputs group by reason",
        )
    )
    assert reasons == {
        "malformed": 1,
        "missing_field": 1,
        "bad_timestamp": 1,
        "future_timestamp": 1,
        "bad_value": 1,
        "conflicting_duplicate": 1,
        "unknown_metric": 1,
        "unknown_subscription": 1,
    }
    bad_lines = query(
        scenario["warehouse"],
        "select line_number, reason from billing.rejected_inputs "
        "where source_file = 'events/e_bad.ndjson' order by line_number",
    )
    assert [line for line, _ in bad_lines] == [1, 2, 3, 4, 5, 6, 7, 9]


def test_the_events_behind_a_line_are_one_query_away(scenario):
    rows = query(
        scenario["warehouse"],
        """
        select lines.events_count, count(events.transaction_id)
        from billing.fct_invoice_lines as lines
        left join billing.invoice_line_events as events using (invoice_line_id)
        where lines.line_type = 'charge'
        group by lines.invoice_line_id, lines.events_count
        """,
    )
    assert rows and all(expected == found for expected, found in rows)


def test_drafts_were_what_finalization_froze(scenario):
    drafts = scenario["drafts"]
    assert {row[2] for row in drafts} == {"draft"} and all(row[1] is None for row in drafts)
    frozen = query(scenario["warehouse"], INVOICE_SNAPSHOT)
    assert [row[:1] + row[3:] for row in frozen] == [row[:1] + row[3:] for row in drafts]


def test_reclosing_a_finalized_month_changes_nothing(scenario, tmp_path):
    before = query(scenario["warehouse"], "select * from ledger.finalized_invoices order by 1")
    ledger = (scenario["output"] / "accounting" / "ledger.beancount").read_bytes()
    assert main(["close", "--month", "2026-10", *scenario["args"]]) == 0
    assert main(["finalize", "--month", "2026-10", *scenario["args"]]) == 0
    after = query(scenario["warehouse"], "select * from ledger.finalized_invoices order by 1")
    assert after == before
    assert (scenario["output"] / "accounting" / "ledger.beancount").read_bytes() == ledger


def test_finalization_writes_pdfs_a_valid_ledger_and_parquet(scenario):
    pdfs = sorted(p.name for p in (scenario["output"] / "invoices" / "2026-10").glob("*.pdf"))
    assert pdfs == sorted(f"{number}.pdf" for number, *_ in EXPECTED_INVOICES.values())
    ledger = scenario["output"] / "accounting" / "ledger.beancount"
    assert check_ledger(ledger) == []
    bean_check = Path(DBT_EXECUTABLE).parent / "bean-check"
    assert subprocess.run([str(bean_check), str(ledger)], check=False).returncode == 0
    assert ledger.read_text().count('invoice_id: "') == len(EXPECTED_INVOICES)
    marts = scenario["output"] / "marts"
    with duckdb.connect() as conn:
        exported = conn.execute(
            f"select count(*), sum(total_amount) from '{marts / 'fct_invoices.parquet'}'"
        ).fetchone()
    assert exported == (5, Decimal("17135.04"))  # 52.55 + 55.95 + 139.54 + 8250 + 8637


def test_finalize_refuses_open_and_unclosed_months(scenario, capsys):
    assert main(["finalize", "--month", "2026-08", *scenario["args"]]) == 2
    assert "has not been closed" in capsys.readouterr().err
    assert main(["close", "--month", "2999-01", *scenario["args"]]) == 2
    assert "not a closable month" in capsys.readouterr().err


def test_dbt_unit_tests_and_suite_only_data_tests_pass_against_the_shared_warehouse(
    scenario, tmp_path
):
    """What closes do not run (docs/performance.md, "What runs where"): the dbt unit tests, and
    the data tests tagged `suite_only` (the key tests of staging and intermediate models), here
    on the closed and finalized scenario."""
    # Its own target path: target/manifest.json is read by the closes of parallel test workers.
    target = tmp_path / "target"
    result = subprocess.run(
        [
            DBT_EXECUTABLE,
            "test",
            "--select",
            "test_type:unit tag:suite_only",
            "--target-path",
            str(target),
        ],
        cwd=REPO_ROOT,
        env={**os.environ, "MH_WAREHOUSE": str(scenario["warehouse"])},
        capture_output=True,
        text=True,
        check=False,
    )
    assert result.returncode == 0, result.stdout[-3000:]
    manifest = json.loads((target / "manifest.json").read_text())
    suite_only = {
        unique_id
        for unique_id, node in manifest["nodes"].items()
        if node["resource_type"] == "test" and "suite_only" in node["tags"]
    }
    results = json.loads((target / "run_results.json").read_text())["results"]
    passed = {r["unique_id"] for r in results if r["status"] == "pass"}
    assert len(suite_only) > 40
    assert suite_only <= passed, sorted(suite_only - passed)
