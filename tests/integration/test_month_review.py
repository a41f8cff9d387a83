"""What finance reads after a close: the month's review in Dagster, the terminal's summary, and
the read-only commands (status, validate, explain, rejects), on the shared scenario.

One close of its own (a typo'd plan code under --strict); everything else reads the scenario
that tests/conftest.py closed and finalized once for the session.
"""

import re
import shutil
from datetime import date, datetime
from decimal import ROUND_HALF_UP, Decimal
from pathlib import Path

import dagster as dg
import duckdb
import pytest
from conftest import CATALOG, build_scenario_landing, write_ndjson

from orchestration.assets.review import REVIEW_KEY, STATUS_TAG
from orchestration.cli import main
from orchestration.landing.loader import ensure_raw_tables, load_folder

pytestmark = pytest.mark.integration


def _instance(scenario) -> dg.DagsterInstance:
    return dg.DagsterInstance.from_config(str(scenario["root"] / "dagster_home"))


def _latest_review(scenario, month: str) -> dg.AssetMaterialization:
    with _instance(scenario) as instance:
        records = instance.fetch_materializations(
            dg.AssetRecordsFilter(asset_key=REVIEW_KEY, asset_partitions=[month]), limit=1
        ).records
    assert records, f"no review recorded for {month}"
    return records[0].asset_materialization


def test_the_review_figures_equal_sums_over_the_parquet_marts(scenario):
    review = _latest_review(scenario, "2026-10")
    metadata = review.metadata
    marts = scenario["output"] / "marts"
    with duckdb.connect() as conn:
        totals = dict(
            conn.execute(
                f"select currency, sum(total_amount) from '{marts / 'fct_invoices.parquet'}' "
                "where billing_month = ? group by currency",
                [date(2026, 10, 1)],
            ).fetchall()
        )
        invoices = conn.execute(
            f"select count(*) from '{marts / 'fct_invoices.parquet'}' where billing_month = ?",
            [date(2026, 10, 1)],
        ).fetchone()[0]
        rejected = conn.execute(
            f"select count(*) from '{marts / 'rejected_inputs.parquet'}'"
        ).fetchone()[0]
    assert invoices > 0 and metadata["invoice_count"].value == invoices
    assert metadata["rejected_rows"].value == rejected > 0
    exponents = {"USD": 2, "EUR": 2, "JPY": 0}
    for currency, total in totals.items():
        assert Decimal(metadata[f"total_billed_{currency}"].value) == total
        minor = metadata[f"total_billed_{currency}_minor_units"].value
        assert minor == int(total * 10 ** exponents[currency])
    markdown = metadata["review"].value
    assert markdown.startswith("# Billing month 2026-10: finalized")
    for currency, total in totals.items():
        assert f"| {currency} |" in markdown and str(total) in markdown
    assert "bad_timestamp" in markdown and "meterhouse rejects" in markdown
    assert review.tags[STATUS_TAG] == "finalized" and metadata["status"].value == "finalized"


def test_every_run_of_a_command_carries_its_month(scenario):
    with _instance(scenario) as instance:
        runs = instance.get_runs(filters=dg.RunsFilter(tags={"meterhouse/month": "2026-10"}))
    stages = {run.tags["meterhouse/stage"]: run for run in runs}
    assert set(stages) == {"close", "finalize"}
    assert stages["finalize"].tags["dagster/partition"] == "2026-10"
    # The close covered September (a subscription starts there) and October, in one run.
    assert len([run for run in runs if run.tags["meterhouse/stage"] == "close"]) == 1
    close = stages["close"].tags
    assert (
        close["dagster/asset_partition_range_start"],
        close["dagster/asset_partition_range_end"],
    ) == ("2026-09", "2026-10")


def test_landing_metadata_is_the_loading_runs(scenario):
    with _instance(scenario) as instance:
        record = instance.fetch_materializations(
            dg.AssetRecordsFilter(asset_key=dg.AssetKey(["landing", "events"])), limit=1
        ).records[0]
    loaded = duckdb.connect(str(scenario["warehouse"]), read_only=True)
    with loaded:
        rejected_at_load = loaded.execute(
            "select count(*) from raw.rejected_inputs where input_kind = 'events'"
        ).fetchone()[0]
    assert record.asset_materialization.metadata["rows_rejected"].value == rejected_at_load > 0


def test_invoice_line_events_are_published_and_explain_reads_them(scenario, capsys):
    marts = scenario["output"] / "marts"
    snapshot = marts / "billing_snapshot.duckdb"
    with duckdb.connect(str(snapshot), read_only=True) as conn:
        number, invoice_id = conn.execute(
            "select invoice_number, invoice_id from billing.fct_invoices "
            "where external_customer_id = 'cust_us' and issuing_date = date '2026-11-01'"
        ).fetchone()
        expected = conn.execute(
            "select count(*) from billing.invoice_line_events where invoice_id = ?", [invoice_id]
        ).fetchone()[0]
        line_counts = conn.execute(
            "select sum(events_count) from billing.fct_invoice_lines "
            "where invoice_id = ? and line_type = 'charge'",
            [invoice_id],
        ).fetchone()[0]
    assert (marts / "invoice_line_events.parquet").exists()
    assert expected == line_counts > 0
    capsys.readouterr()
    assert main(["explain", "--invoice", number, "--snapshot", str(snapshot)]) == 0
    out = capsys.readouterr().out
    # Every charge line: the events listed behind it are as many as its events_count.
    pairs = re.findall(
        r"\((\d+) event\(s\)\)\n(?:  (?:tier|free units|packages)\b.*\n)*"
        r"  events behind this line: (\d+)",
        out,
    )
    assert pairs and all(declared == listed for declared, listed in pairs), out
    assert sum(int(listed) for _, listed in pairs) == expected
    assert "plan starter_usd" in out and "api_calls" in out
    # A free tier, a package line's free units and its packages, as the tier rows state them.
    assert "  tier 0..10000: 10000 units free\n" in out, out
    assert "  free units: the first 50000 units free\n" in out, out
    assert re.search(r"  packages: \d+ package\(s\) of 1000 units x 0\.02 = [\d.]+ USD\n", out)
    assert main(["explain", "--invoice", number, *scenario["args"]]) == 0
    warehouse_out = capsys.readouterr().out
    assert "tier 10001" in warehouse_out
    # The tier rows are billing.fct_invoice_line_tiers', read alike from both sources ...
    assert warehouse_out == out
    # ... and each line's tier rows add up to its amount.
    with duckdb.connect(str(snapshot), read_only=True) as conn:
        lines = conn.execute(
            "select l.precise_amount, l.amount, "
            "(select count(*) from billing.fct_invoice_line_tiers as t "
            "where t.invoice_line_id = l.invoice_line_id) "
            "from billing.fct_invoice_lines as l where l.invoice_id = ? "
            "order by l.external_subscription_id, l.line_type, l.charge_code, l.invoice_line_id",
            [invoice_id],
        ).fetchall()
    blocks = out.split("\n- ")[1:]
    assert len(blocks) == len(lines)
    tiered = 0
    for block, (precise_amount, amount, tier_rows) in zip(blocks, lines, strict=True):
        rows = re.findall(r"^  (?:tier|free units|packages)\b.*$", block, re.MULTILINE)
        assert len(rows) == tier_rows, block
        if not rows:
            continue
        tiered += 1
        amounts = [
            Decimal(found[1]) if (found := re.search(r"= (\S+) USD$", row)) else Decimal(0)
            for row in rows
        ]
        assert all(re.search(r"= \S+ USD$", row) or row.endswith("free") for row in rows), rows
        assert sum(amounts) == precise_amount
        assert sum(amounts).quantize(Decimal("0.01"), ROUND_HALF_UP) == amount
    assert tiered > 0


def test_status_tells_closed_finalized_and_rejects(scenario, capsys):
    capsys.readouterr()
    assert main(["status", *scenario["args"]]) == 0
    out = capsys.readouterr().out
    assert re.search(r"Closed:\s+2026-09\.\.2026-10", out), out
    assert re.search(r"Finalized:\s+2026-10", out), out
    assert re.search(r"Drafts:\s+2026-09", out), out
    assert "Restatements: none pending" in out
    assert re.search(r"Last run:\s+\w+ 2026-\d\d success", out), out


def _clean_landing(root: Path) -> Path:
    landing = root / "landing"
    build_scenario_landing(landing)
    (landing / "events" / "e_bad.ndjson").unlink()  # the scenario's hostile rows
    return landing


def test_validate_passes_clean_inputs_and_names_every_bad_row(scenario, tmp_path, capsys):
    landing = _clean_landing(tmp_path)
    assert main(["validate", f"--landing={landing}", f"--warehouse={tmp_path / 'w.duckdb'}"]) == 0
    assert "No error found." in capsys.readouterr().out
    assert not (tmp_path / "w.duckdb").exists()  # nothing built, nothing written

    assert main(["validate", *scenario["args"]]) == 1
    out = capsys.readouterr().out
    assert "events/e_bad.ndjson line 3: bad_timestamp" in out
    assert "error(s)." in out

    # What the close rejects against the catalog or other inputs, found without building.
    event = {"timestamp": "2026-10-15T10:00:00Z", "properties": {}}
    write_ndjson(
        landing / "events" / "z_refs.ndjson",
        [
            {**event, "transaction_id": "r1", "external_subscription_id": "sub_us", "code": "nope"},
            {
                **event,
                "transaction_id": "r2",
                "external_subscription_id": "sub_x",
                "code": "tokens",
            },
        ],
    )
    write_ndjson(
        landing / "subscriptions" / "z_refs.ndjson",
        [
            {
                "external_subscription_id": "sub_mixed",
                "external_customer_id": "cust_us",
                "plan_code": "team_eur",
                "started_at": "2026-10-01T00:00:00Z",
            }
        ],
    )
    write_ndjson(
        landing / "applied_coupons" / "z_refs.ndjson",
        [{"external_customer_id": "cust_us", "coupon_code": "NOPE", "applied_at": "2026-10-01"}],
    )
    write_ndjson(
        landing / "wallets" / "z_refs.ndjson",
        [
            {
                "wallet_code": "w_x",
                "external_customer_id": "cust_nobody",
                "currency": "USD",
                "rate_amount": "1",
                "created_at": "2026-10-01T00:00:00Z",
            }
        ],
    )
    assert main(["validate", f"--landing={landing}", f"--warehouse={tmp_path / 'w.duckdb'}"]) == 1
    out = capsys.readouterr().out
    assert "events/z_refs.ndjson line 1: unknown_metric" in out, out
    assert "events/z_refs.ndjson line 2: unknown_subscription" in out
    assert "subscriptions/z_refs.ndjson line 1: currency_mismatch" in out
    assert "applied_coupons/z_refs.ndjson line 1: unknown_coupon" in out
    assert "wallets/z_refs.ndjson line 1: unknown_customer" in out
    assert "5 error(s)." in out
    assert not (tmp_path / "w.duckdb").exists()


def _typo_plan(landing: Path) -> None:
    path = landing / "subscriptions" / "subscriptions.ndjson"
    text = path.read_text()
    assert "starter_usd" in text
    path.write_text(text.replace("starter_usd", "startr_usd", 1))


def test_a_typod_plan_code_is_reported_and_strict_fails(tmp_path, capsys):
    landing = _clean_landing(tmp_path)
    _typo_plan(landing)
    args = [
        f"--landing={landing}",
        f"--warehouse={tmp_path / 'warehouse.duckdb'}",
        f"--output={tmp_path / 'output'}",
    ]
    assert main(["validate", *args[:2]]) == 1
    assert "unknown_plan" in capsys.readouterr().out

    # A row rejected by an earlier load: in the all-time figure, not in this close's review.
    earlier = tmp_path / "earlier" / "events"
    write_ndjson(earlier / "earlier.ndjson", ['{"broken'])
    with duckdb.connect(str(tmp_path / "warehouse.duckdb")) as conn:
        ensure_raw_tables(conn)
        assert load_folder(conn, "events", earlier, datetime(2026, 11, 2)).rows_rejected == 1

    assert main(["close", "--month", "2026-10", "--strict", *args]) == 3
    captured = capsys.readouterr()
    with dg.DagsterInstance.from_config(str(tmp_path / "dagster_home")) as instance:
        review = (
            instance.fetch_materializations(
                dg.AssetRecordsFilter(asset_key=REVIEW_KEY, asset_partitions=["2026-10"]), limit=1
            )
            .records[0]
            .asset_materialization
        )
    with duckdb.connect(str(tmp_path / "warehouse.duckdb"), read_only=True) as conn:
        loaded_by_the_close, all_time = conn.execute(
            "select count(*) filter (where loaded_at > ?), count(*) from billing.rejected_inputs",
            [datetime(2026, 11, 2)],
        ).fetchone()
    assert review.metadata["rejected_rows"].value == loaded_by_the_close > 0
    assert review.metadata["rejected_rows_all_time"].value == all_time == loaded_by_the_close + 1
    assert "earlier.ndjson" not in review.metadata["review"].value
    assert re.search(r"subscriptions\s+unknown_plan\s+1", captured.out), captured.out
    assert "meterhouse rejects" in captured.out
    # The subscription's events are rejected with it (unknown_subscription): --strict fails.
    assert re.search(r"--strict: \d+ input row\(s\) were rejected", captured.err)
    assert "START" not in captured.out and "Traceback" not in captured.err
    log = re.search(r"dbt log:\s+(\S+)", captured.out)[1]
    assert " START " in Path(log).read_text()  # dbt's lines are kept in the log

    assert main(["rejects", "--reason", "unknown_plan", *args]) == 0
    assert "subscriptions/subscriptions.ndjson line 1: unknown_plan" in capsys.readouterr().out


def test_a_catalog_error_is_one_paragraph_naming_file_line_column_and_value(tmp_path, capsys):
    catalog = tmp_path / "catalog"
    shutil.copytree(CATALOG, catalog)
    plans = catalog / "plans.csv"
    plans.write_text(
        plans.read_text().replace(
            "starter_usd,Starter,monthly,USD,49.00,", "starter_usd,Starter,monthly,USD,-49.00,"
        )
    )
    landing = _clean_landing(tmp_path)
    args = [f"--catalog={catalog}", f"--landing={landing}", f"--warehouse={tmp_path / 'w.duckdb'}"]
    assert main(["close", "--month", "2026-10", *args, f"--output={tmp_path / 'out'}"]) == 2
    err = capsys.readouterr().err
    assert 'plans.csv line 3, column amount = "-49.00"' in err, err
    assert "the subscription fee must be a non-negative decimal" in err and str(plans) in err
    assert "Traceback" not in err and len(err.strip().splitlines()) <= 3, err
    assert main(["validate", *args]) == 1
    assert 'column amount = "-49.00"' in capsys.readouterr().out
