"""The one Definitions of Meterhouse: every asset, check, job and schedule, listed explicitly."""

import dagster as dg

from orchestration.assets.dbt_models import billing_dbt_models, dbt_asset_keys_tagged
from orchestration.assets.landing import landing_inputs
from orchestration.assets.outputs import (
    accounting_ledger,
    credit_note_pdfs,
    invoice_pdfs,
    marts_parquet,
)
from orchestration.assets.review import month_review
from orchestration.assets.usage import (
    usage_refresh_job,
    usage_refresh_models,
    usage_refresh_on_landing,
    usage_refresh_schedule,
)
from orchestration.project import dbt_project, ensure_manifest
from orchestration.resources import dbt, warehouse
from orchestration.settings import export_locations
from orchestration.webhooks.assets import (
    webhook_deliveries,
    webhook_delivery_job,
    webhook_delivery_sensor,
    webhook_outbox,
)

# The code location's entry point: Dagster (`dagster dev`, a workspace, the CLI's runs) loads
# this module, and its resources read the locations from the environment (dg.EnvVar).
export_locations()
# Under `dagster dev`, refresh a stale manifest, in this process: dagster-dbt's own preparer
# would look for a `dbt` executable on PATH, which an unactivated venv does not provide.
if dbt_project.preparer.using_dagster_dev():
    ensure_manifest()

# The frozen tables (models/finalized, dbt tag `finalization`): appended to by a finalization only.
FROZEN_TABLES = dbt_asset_keys_tagged("finalization")
# The billing marts, which a finalization rebuilds on top of the frozen rows; alerts are not billed
# and current usage has its own job.
BILLED_MARTS = dg.AssetSelection.groups("marts") - dg.AssetSelection.tag("alerts", "")

# The close: load what is new, build every model for the close window, publish Parquet, review.
# The frozen tables (models/finalized) change only when a month is finalized, so their tests run
# then, not again on every close (docs/performance.md, "What runs where").
monthly_close_job = dg.define_asset_job(
    name="monthly_close",
    selection=dg.AssetSelection.assets(
        landing_inputs, billing_dbt_models, marts_parquet, month_review, webhook_outbox
    )
    - dg.AssetSelection.checks_for_assets(*FROZEN_TABLES),
    partitions_def=None,
    executor_def=dg.in_process_executor,
    description="Close a billing month (docs/conventions.md): invoices land in draft.",
)

# Finalization: freeze and number the month's drafts, then rebuild the marts on top of them,
# render PDFs and sync the books.
finalize_job = dg.define_asset_job(
    name="finalize_month",
    selection=dg.AssetSelection.assets(*FROZEN_TABLES)
    | BILLED_MARTS
    | dg.AssetSelection.assets(
        invoice_pdfs, credit_note_pdfs, accounting_ledger, marts_parquet, month_review
    )
    | dg.AssetSelection.assets(webhook_outbox),
    config={"ops": {"billing_dbt_models": {"config": {"finalize": True}}}},
    executor_def=dg.in_process_executor,
    description="Finalize a closed month (docs/conventions.md): numbers, frozen invoices, PDFs.",
)

# Close the previous month on the 2nd at 06:00 UTC, after late events of the 1st have landed.
monthly_close_schedule = dg.build_schedule_from_partitioned_job(
    monthly_close_job, day_of_month=2, hour_of_day=6
)


def monthly_close_job_assets_after_landing() -> list[dg.AssetKey]:
    """The close's assets but the landing ones: a second close run within one command has no new
    file to load, and would otherwise record zero counts over the first run's."""
    graph = defs.resolve_asset_graph()
    landing = set(landing_inputs.keys)
    return [key for key in monthly_close_job.selection.resolve(graph) if key not in landing]


defs = dg.Definitions(
    assets=[
        landing_inputs,
        billing_dbt_models,
        invoice_pdfs,
        credit_note_pdfs,
        accounting_ledger,
        marts_parquet,
        month_review,
        webhook_outbox,
        webhook_deliveries,
        usage_refresh_models,
    ],
    jobs=[monthly_close_job, finalize_job, webhook_delivery_job, usage_refresh_job],
    schedules=[monthly_close_schedule, usage_refresh_schedule],
    sensors=[webhook_delivery_sensor, usage_refresh_on_landing],
    resources={"dbt": dbt, "warehouse": warehouse},
    # UI backfills and materializations run in one process: one dbt parse per run, not per step.
    executor=dg.in_process_executor,
)
