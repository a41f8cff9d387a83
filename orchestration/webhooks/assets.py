"""Webhooks in Dagster: the outbox a close or a finalization fills, the delivery asset a sensor
runs while the UI is up, and their figures as metadata (docs/webhooks.md)."""

from datetime import datetime

import dagster as dg
import pyarrow.parquet as pq
from dagster_duckdb import DuckDBResource

from orchestration.assets.dbt_models import dbt_asset_key
from orchestration.partitions import monthly_partitions
from orchestration.settings import current_locations
from orchestration.webhooks import outbox
from orchestration.webhooks.config import WebhookConfigError, load_settings
from orchestration.webhooks.delivery import PassReport, deliver_due, utc_now

OUTBOX_KEY = dg.AssetKey(["webhooks", "outbox"])
DELIVERIES_KEY = dg.AssetKey(["webhooks", "deliveries"])
OUTBOX_MARTS = (
    "fct_invoices",
    "fct_invoice_lines",
    "fct_credit_notes",
    "fct_wallet_transactions",
    "dim_customers",
    "rejected_inputs",
    "fct_alerts_triggered",
)


@dg.asset(
    key=OUTBOX_KEY,
    deps=[*(dbt_asset_key(name) for name in OUTBOX_MARTS), dg.AssetKey(["files", "marts_parquet"])],
    group_name="webhooks",
    partitions_def=monthly_partitions,
    backfill_policy=dg.BackfillPolicy.single_run(),
    pool="duckdb_writer",
    kinds={"duckdb"},
)
def webhook_outbox(context: dg.AssetExecutionContext, warehouse: DuckDBResource):
    """Queue the webhooks of what this run produced: one row per event and endpoint, ids derived
    from the object, the event type and the endpoint, so a re-run queues nothing twice. Nothing
    is sent here: delivery runs outside the close."""
    try:
        settings = load_settings()
    except WebhookConfigError as error:
        raise dg.Failure(f"webhook configuration: {error}") from None
    with warehouse.get_connection() as conn:
        queued = outbox.enqueue(conn, settings, current_locations().catalog_dir, utc_now())
        statuses = outbox.status_counts(conn)
        log = outbox.publish_log(conn, current_locations().output_dir)
    deliveries = queued.pop("deliveries")
    return dg.MaterializeResult(
        metadata={
            "endpoints": len(settings.endpoints),
            "new_events": sum(queued.values()),
            "queued_deliveries": deliveries,
            **{f"new_{kind.replace('.', '_')}": count for kind, count in sorted(queued.items())},
            **{f"outbox_{status}": count for status, count in statuses.items()},
            "delivery_log": dg.MetadataValue.path(str(log)),
        }
    )


# The delivery log as Dagster sees it: not materialized by a partitioned run like the billing
# assets, but reported by each delivery pass, whose figures the UI plots.
webhook_deliveries = dg.AssetSpec(
    key=DELIVERIES_KEY,
    deps=[OUTBOX_KEY],
    group_name="webhooks",
    description="The webhook delivery log (billing.fct_webhook_deliveries): every pass reports "
    "its tries and the outbox by status (docs/webhooks.md).",
    kinds={"http"},
)


@dg.op
def deliver_webhooks(context: dg.OpExecutionContext) -> None:
    """Send the webhooks that are due (Lago's retries: docs/webhooks.md) and record each try in
    billing.fct_webhook_deliveries; skipped while a close or finalization holds the warehouse."""
    report = deliver_due(current_locations(), load_settings())
    context.log_event(
        dg.AssetMaterialization(asset_key=DELIVERIES_KEY, metadata=report_metadata(report))
    )


def report_metadata(report: PassReport) -> dict:
    metadata: dict = {
        "attempted": report.attempted,
        "succeeded_now": report.succeeded,
        "failed_now": report.failed,
        **{status: count for status, count in report.counts.items()},
    }
    if report.skipped:
        metadata["skipped"] = report.skipped
    if report.next_attempt_at:
        metadata["next_attempt_at"] = report.next_attempt_at.isoformat(timespec="seconds")
    failures = _failures_table()
    if failures:
        metadata["failed_deliveries"] = dg.MetadataValue.md(failures)
    return metadata


def _failures_table(limit: int = 20) -> str:
    rows = [r for r in _published_log() if r["status"] == "failed"][-limit:]
    if not rows:
        return ""
    lines = ["| webhook | type | object | endpoint | http | attempts | error |", "|---" * 7 + "|"]
    lines += [
        f"| {r['webhook_id']} | {r['webhook_type']} | {r['object_id']} | {r['endpoint_url']} | "
        f"{r['http_status'] or ''} | {r['attempts']} | {_cell(r['last_error'])} |"
        for r in rows
    ]
    return "\n".join(lines)


def _cell(text: str | None) -> str:
    return (text or "").replace("|", "/").replace("\n", " ")


def _published_log() -> list[dict]:
    path = current_locations().output_dir / "marts" / "fct_webhook_deliveries.parquet"
    try:
        return pq.read_table(path).to_pylist()
    except (FileNotFoundError, OSError):
        return []


@dg.job(
    name="webhook_delivery",
    executor_def=dg.in_process_executor,
    description="Deliver the webhooks that are due (docs/webhooks.md).",
)
def webhook_delivery_job() -> None:
    deliver_webhooks()


def due_deliveries(now: datetime) -> int:
    """Deliveries due by `now`, from the published log (no lock on the warehouse)."""
    return sum(
        1
        for r in _published_log()
        if r["status"] in ("pending", "retrying")
        and r["next_attempt_at"] is not None
        and r["next_attempt_at"] <= now
    )


@dg.sensor(
    job=webhook_delivery_job,
    minimum_interval_seconds=15,
    default_status=dg.DefaultSensorStatus.RUNNING,
)
def webhook_delivery_sensor(context: dg.SensorEvaluationContext):
    """Start a delivery run when webhooks are due and none is running."""
    try:
        settings = load_settings()
    except WebhookConfigError as error:
        return dg.SkipReason(f"webhook configuration: {error}")
    if not settings.endpoints:
        return dg.SkipReason("no webhook endpoint configured (docs/webhooks.md)")
    due = due_deliveries(utc_now())
    if not due:
        return dg.SkipReason("no webhook due")
    running = context.instance.get_runs(
        filters=dg.RunsFilter(
            job_name=webhook_delivery_job.name,
            statuses=[
                dg.DagsterRunStatus.QUEUED,
                dg.DagsterRunStatus.NOT_STARTED,
                dg.DagsterRunStatus.STARTING,
                dg.DagsterRunStatus.STARTED,
            ],
        ),
        limit=1,
    )
    if running:
        return dg.SkipReason("a delivery run is in progress")
    return dg.RunRequest(tags={"meterhouse/stage": "webhooks", "meterhouse/due": str(due)})
