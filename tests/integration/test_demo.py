"""`meterhouse demo` at a small size: generated, closed, finalized, and nothing lost."""

import json
from decimal import Decimal

import duckdb
import pytest

from orchestration.accounting import check_ledger
from orchestration.cli import main

pytestmark = pytest.mark.integration


def test_demo_closes_and_finalizes_every_month(tmp_path, capsys):
    args = [
        f"--landing={tmp_path / 'landing'}",
        f"--warehouse={tmp_path / 'warehouse.duckdb'}",
        f"--output={tmp_path / 'output'}",
    ]
    assert main(["demo", "--months", "2", "--customers", "16", "--events", "20000", *args]) == 0
    assert "finalized JPY" in capsys.readouterr().out
    manifest = json.loads((tmp_path / "landing" / "demo_manifest.json").read_text())
    with duckdb.connect(str(tmp_path / "warehouse.duckdb")) as conn:
        statuses = conn.execute(
            "select status, currency, count(*) from billing.fct_invoices group by 1, 2"
        ).fetchall()
        jpy_amounts = conn.execute(
            "select total_amount from billing.fct_invoices where currency = 'JPY'"
        ).fetchall()
        rejected = dict(
            conn.execute(
                "select reason, count(*) from billing.rejected_inputs group by 1"
            ).fetchall()
        )
        loaded = conn.execute(
            "select sum(rows_read), sum(rows_duplicate) from raw.loaded_files "
            "where input_kind = 'events'"
        ).fetchone()
        invoices = conn.execute("select count(*) from billing.fct_invoices").fetchone()[0]
    assert {status for status, _, _ in statuses} == {"finalized"}
    assert {currency for _, currency, _ in statuses} == {"USD", "EUR", "JPY"}
    assert all(amount == amount.to_integral_value() for (amount,) in jpy_amounts)
    assert all(isinstance(amount, Decimal) for (amount,) in jpy_amounts)
    # Nothing lost: every injected anomaly is quarantined under its reason, duplicates counted.
    injected = manifest["injected"]
    for reason in (
        "malformed",
        "missing_field",
        "bad_timestamp",
        "bad_value",
        "conflicting_duplicate",
        "unknown_metric",
        "unknown_subscription",
    ):
        assert rejected.get(reason, 0) == injected[reason], reason
    assert loaded == (manifest["events_written"], injected["exact_duplicate"])
    pdfs = list((tmp_path / "output" / "invoices").rglob("*.pdf"))
    assert len(pdfs) == invoices
    assert check_ledger(tmp_path / "output" / "accounting" / "ledger.beancount") == []
