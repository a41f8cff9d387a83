"""The Dagster definitions load, with the assets, partitions and jobs the contract promises."""

import dagster as dg

from orchestration.assets.dbt_models import BillingDbtTranslator, dbt_asset_key
from orchestration.definitions import defs
from orchestration.partitions import monthly_partitions


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
    for key in graph.materializable_asset_keys:
        assert graph.get(key).partitions_def == monthly_partitions, key
    check_keys = {key.asset_key.to_user_string() for key in graph.asset_check_keys}
    assert "billing/fct_invoices" in check_keys


def test_partition_keys_are_close_months():
    keys = monthly_partitions.get_partition_keys()
    assert keys[0] == "2024-01"
    assert "2026-10" in keys


def test_jobs_and_schedule_exist():
    assert {job.name for job in defs.resolve_all_job_defs()} >= {"monthly_close", "finalize_month"}
    schedule = defs.resolve_schedule_def("monthly_close_schedule")
    assert schedule.cron_schedule == "0 6 2 * *"


def test_dbt_keys_are_schema_and_model():
    assert dbt_asset_key("fct_invoices") == dg.AssetKey(["billing", "fct_invoices"])
    assert BillingDbtTranslator._group(
        {"original_file_path": "dbt_project/models/marts/x.sql"}
    ) == ("marts")
