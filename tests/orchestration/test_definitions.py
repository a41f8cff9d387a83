"""The Dagster definitions load, with the assets, partitions and jobs the contract promises."""

import json
from datetime import UTC, datetime

import dagster as dg

from orchestration.assets.dbt_models import (
    BillingDbtTranslator,
    billing_dbt_models,
    dbt_asset_key,
)
from orchestration.assets.usage import USAGE_ASSET_KEYS, USAGE_DBT_ARGS
from orchestration.cli import main
from orchestration.definitions import defs, finalize_job, monthly_close_job
from orchestration.partitions import (
    FIRST_CLOSE_MONTH,
    first_close_month,
    monthly_partitions,
    ui_first_month,
)
from orchestration.project import dbt_project
from orchestration.settings import Locations


def test_definitions_hold_every_layer():
    keys = {key.to_user_string() for key in defs.resolve_asset_graph().get_all_asset_keys()}
    assert {
        "landing/events",
        "landing/customers",
        "landing/subscriptions",
        "landing/rejected_inputs",
        "landing/catalog_charges",
        "intermediate/int_subscription_billings_scheduled",
        "ledger/finalized_invoices",
        "billing/fct_invoices",
        "billing/fct_invoice_lines",
        "billing/fct_invoice_taxes",
        "billing/rejected_inputs",
        "files/invoice_pdfs",
        "files/accounting_ledger",
        "files/marts_parquet",
    } <= keys


def test_every_asset_is_a_monthly_partition_and_dbt_tests_are_checks():
    graph = defs.resolve_asset_graph()
    usage = set(USAGE_ASSET_KEYS)
    for key in graph.materializable_asset_keys - usage:
        assert graph.get(key).partitions_def == monthly_partitions, key
    # Current usage is not a month's: one unpartitioned refresh (docs/current-usage.md).
    for key in usage:
        assert graph.get(key).partitions_def is None, key
    check_keys = {key.asset_key.to_user_string() for key in graph.asset_check_keys}
    assert "billing/fct_invoices" in check_keys


def test_partition_keys_are_close_months():
    # From MH_FIRST_CLOSE_MONTH, else the first month with data (exported by `meterhouse ui`),
    # else every month since EARLIEST_MONTH (issue 14: no hard-coded 2024-01 any more).
    keys = monthly_partitions.get_partition_keys()
    assert keys[0] == FIRST_CLOSE_MONTH
    assert "2026-10" in keys


def test_the_first_month_comes_from_the_data(tmp_path, monkeypatch, capsys):
    monkeypatch.delenv("MH_FIRST_CLOSE_MONTH", raising=False)
    landing = tmp_path / "landing"
    empty = Locations(tmp_path / "catalog", landing, tmp_path / "warehouse.duckdb", tmp_path)
    assert first_close_month(empty).month == ""
    assert ui_first_month(empty) < datetime.now(UTC).strftime("%Y-%m")
    subscription = {
        "external_customer_id": "c1",
        "external_subscription_id": "s1",
        "plan_code": "starter_usd",
        "started_at": "2025-03-15T00:00:00Z",
        "updated_at": "2025-03-01T00:00:00Z",
    }
    (landing / "subscriptions").mkdir(parents=True)
    (landing / "subscriptions" / "s.ndjson").write_text(json.dumps(subscription) + "\n")
    assert first_close_month(empty).month == "2025-03"
    assert ui_first_month(empty) == "2025-03"

    args = [f"--landing={landing}", f"--warehouse={tmp_path / 'warehouse.duckdb'}"]
    assert main(["close", "--month", "2025-01", *args]) == 2
    error = capsys.readouterr().err
    assert "before the first billing month, 2025-03" in error
    assert "MH_FIRST_CLOSE_MONTH=2025-01" in error

    monkeypatch.setenv("MH_FIRST_CLOSE_MONTH", "2024-06")
    assert first_close_month(empty).month == "2024-06"


def test_frozen_tables_are_tested_when_finalized_not_on_every_close():
    graph = defs.resolve_asset_graph()

    def checked_models(job) -> set[str]:
        return {key.asset_key.path[-1] for key in job.selection.resolve_checks(graph)}

    close, finalize = checked_models(monthly_close_job), checked_models(finalize_job)
    assert "finalized_invoices" in finalize and "fct_invoices" in finalize
    assert not {name for name in close if name.startswith("finalized_")}
    assert {"fct_invoices", "fct_invoice_lines", "currencies"} <= close


def test_jobs_and_schedule_exist():
    assert {job.name for job in defs.resolve_all_job_defs()} >= {"monthly_close", "finalize_month"}
    schedule = defs.resolve_schedule_def("monthly_close_schedule")
    assert schedule.cron_schedule == "0 6 2 * *"


def test_usage_refresh_job_sensor_and_schedule(tmp_path, monkeypatch):
    job = defs.resolve_job_def("usage_refresh")
    assert set(job.asset_layer.executable_asset_keys) >= set(USAGE_ASSET_KEYS)
    # The close's dbt step never builds the usage models: the refresh owns them.
    close_keys = set(defs.resolve_job_def("monthly_close").asset_layer.executable_asset_keys)
    assert not close_keys & set(USAGE_ASSET_KEYS)
    assert defs.resolve_schedule_def("usage_refresh_every_15_minutes").job_name == "usage_refresh"

    landing = tmp_path / "landing"
    monkeypatch.setenv("MH_LANDING_DIR", str(landing))
    sensor = defs.resolve_sensor_def("usage_refresh_on_landing")
    (landing / "events").mkdir(parents=True)
    (landing / "events" / "a.ndjson").write_text("{}\n")
    with dg.build_sensor_context(cursor=None) as context:
        first = sensor.evaluate_tick(context)
        assert len(first.run_requests) == 1 and first.cursor
    with dg.build_sensor_context(cursor=first.cursor) as context:
        assert sensor.evaluate_tick(context).run_requests == []  # nothing new: skipped
    (landing / "events" / "b.ndjson").write_text("{}\n")
    with dg.build_sensor_context(cursor=first.cursor) as context:
        assert len(sensor.evaluate_tick(context).run_requests) == 1


def test_dbt_keys_are_schema_and_model():
    assert dbt_asset_key("fct_invoices") == dg.AssetKey(["billing", "fct_invoices"])
    assert BillingDbtTranslator._group(
        {"original_file_path": "dbt_project/models/marts/x.sql"}
    ) == ("marts")


def test_suite_only_dbt_tests_are_not_checks_of_a_close_or_a_refresh():
    """The key tests tagged suite_only run in `make test` only (docs/performance.md, "What runs
    where"): they are no asset checks, and the usage refresh's dbt command leaves them out."""
    manifest = json.loads(dbt_project.manifest_path.read_text())
    suite_only = {
        node["name"]
        for node in manifest["nodes"].values()
        if node["resource_type"] == "test" and "suite_only" in node["tags"]
    }
    checks = {spec.name for spec in billing_dbt_models.check_specs}
    assert len(suite_only) > 40
    assert suite_only.isdisjoint(checks)
    # The public table's key stays a check of every close.
    assert "unique_combination_of_columns_rejected_inputs_rejected_input_id__loaded_at" in checks
    assert "tag:suite_only" in USAGE_DBT_ARGS[USAGE_DBT_ARGS.index("--exclude") + 1].split()


def test_dbt_tests_as_checks_carry_their_yaml_description():
    graph = defs.resolve_asset_graph()
    key = next(
        key
        for key in graph.asset_check_keys
        if key.asset_key == dbt_asset_key("fct_invoices")
        and key.name.startswith("accepted_values_fct_invoices_status")
    )
    spec = next(spec for spec in billing_dbt_models.check_specs if spec.key == key)
    assert spec.description.startswith("An invoice has a status other than draft")


def test_a_usage_refresh_is_skipped_while_a_close_holds_the_warehouse(tmp_path, monkeypatch):
    """Started by the sensor or the schedule with wait_for_close false, a refresh that finds a
    close holding the warehouse lock materializes nothing and says why (docs/current-usage.md)."""
    import subprocess
    import time

    from orchestration.assets.usage import usage_refresh_models
    from orchestration.resources import dbt, warehouse
    from orchestration.runs import lock_path

    warehouse_file = tmp_path / "warehouse.duckdb"
    monkeypatch.setenv("MH_WAREHOUSE", str(warehouse_file))
    ready = tmp_path / "locked"
    holder = subprocess.Popen(  # another process holds the lock, as a running close does
        [
            "flock",
            str(lock_path(warehouse_file)),
            "sh",
            "-c",
            f"touch {ready}; sleep 60",
        ]
    )
    try:
        while not ready.exists():
            time.sleep(0.05)
        with dg.instance_for_test() as instance:
            result = dg.materialize(
                [usage_refresh_models],
                instance=instance,
                resources={"dbt": dbt, "warehouse": warehouse},
                run_config={"ops": {"usage_refresh_models": {"config": {"wait_for_close": False}}}},
            )
            messages = [entry.user_message for entry in instance.all_logs(result.run_id)]
    finally:
        holder.kill()
        holder.wait()
    assert result.success
    assert result.get_asset_materialization_events() == []
    assert any(
        "usage refresh skipped" in m and "another close or finalization" in m for m in messages
    )


def test_frozen_reads_are_no_dagster_deps():
    """The models that read the frozen ledger through the dbt `ledger` source
    (docs/contributing.md, "dbt") keep no Dagster dep on it: the finalized tables are built from
    what reads them, so the dep would be a cycle. Their other deps stay."""
    graph = defs.resolve_asset_graph()
    readers = ("int_manual_credit_notes_validated", "int_invoice_restatements")
    for name in readers:
        parents = {key.to_user_string() for key in graph.get(dbt_asset_key(name)).parent_keys}
        assert parents, name
        assert not {key for key in parents if key.startswith(("ledger/", "earlier_state/"))}, name
    assert "staging/stg_landing__credit_notes" in {
        key.to_user_string()
        for key in graph.get(dbt_asset_key("int_manual_credit_notes_validated")).parent_keys
    }
    keys = {key.to_user_string() for key in graph.get_all_asset_keys()}
    assert not {key for key in keys if key.startswith("earlier_state/")}
