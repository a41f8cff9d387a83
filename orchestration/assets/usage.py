"""Current usage between closes (docs/current-usage.md): load what landed, rate the period to date
with the close's own SQL (the dbt models tagged `usage`, one dbt invocation), publish the marts.

A refresh writes the warehouse, so it runs under the one-writer lock of closes (runs.py): started
by the CLI it holds the lock already; started by the sensor or the schedule it takes it, and when
a close holds it, it waits (`wait_for_close`, the default) or is skipped, and says which.
"""

import hashlib
import time
import uuid
from datetime import UTC, datetime
from pathlib import Path

import dagster as dg
import duckdb
from dagster_dbt import DbtCliResource
from dagster_duckdb import DuckDBResource

from orchestration.assets.dbt_models import prune_invocation_folders
from orchestration.assets.outputs import publish_marts
from orchestration.dbt_in_process import vars_args
from orchestration.landing.catalog import load_catalog
from orchestration.landing.loader import ensure_raw_tables, load_folder
from orchestration.landing.readers import LANDING_KINDS
from orchestration.project import dbt_project, save_partial_parse
from orchestration.settings import current_locations

USAGE_TABLES = ("fct_usage_current", "fct_usage_current_subscriptions", "fct_usage_daily")
USAGE_ASSET_KEYS = [dg.AssetKey(["billing", name]) for name in USAGE_TABLES]

# One dbt invocation: the usage models and what they read that is not scoped to a close window
# (staging views, validated accounts, reference seeds). A close's period-scoped and frozen tables
# are never selected, so a refresh leaves closed and draft months as they are; `cautious` keeps
# the tests of those tables out too. The `suite_only` key tests run in `make test` instead.
USAGE_DBT_ARGS = [
    "build",
    "--select",
    # Alerts are evaluated on the fresh usage (docs/rules.md §21), with the alert inputs that are
    # not the close's: the wallet ledger and invoices (int_wallet_balances_now) are read as the
    # last close wrote them, never rebuilt here.
    "+tag:usage tag:alerts +int_alerts_validated +int_wallet_transactions_validated",
    "--exclude",
    "tag:period_scoped tag:finalization test_type:unit tag:suite_only",
    "--indirect-selection",
    "cautious",
    "--log-level-file",  # the run's log (logs/) has dbt's lines; docs/performance.md
    "none",
]
INVOCATION_PREFIX = "usage_refresh"


class UsageRefreshConfig(dg.Config):
    """as_of: the usage instant (ISO 8601, UTC); empty means the latest event loaded.
    wait_for_close: when a close holds the warehouse, wait for it (else skip this refresh)."""

    as_of: str = ""
    wait_for_close: bool = True


@dg.multi_asset(
    specs=[
        dg.AssetSpec(key, skippable=True, kinds={"duckdb"}, description=f"billing.{key.path[-1]}")
        for key in USAGE_ASSET_KEYS
    ],
    group_name="usage",
    pool="duckdb_writer",
    name="usage_refresh_models",
)
def usage_refresh_models(
    context: dg.AssetExecutionContext,
    config: UsageRefreshConfig,
    dbt: DbtCliResource,
    warehouse: DuckDBResource,
):
    """Load new landing inputs, compute current usage as of the instant, publish the marts."""
    from orchestration.runs import RunError, warehouse_lock

    locations = current_locations()
    started = time.perf_counter()
    try:
        with warehouse_lock(locations.warehouse, wait=config.wait_for_close):
            figures = _refresh(context, config, dbt, warehouse)
    except RunError as error:
        context.log.warning(f"usage refresh skipped: {error}")
        return
    figures["seconds"] = round(time.perf_counter() - started, 2)
    context.log.info(f"usage refresh: {figures}")
    for key in USAGE_ASSET_KEYS:
        yield dg.MaterializeResult(asset_key=key, metadata=_metadata(key, figures))


def _refresh(context, config: UsageRefreshConfig, dbt: DbtCliResource, warehouse) -> dict:
    locations = current_locations()
    loaded_at = datetime.now(UTC).replace(tzinfo=None, microsecond=0)
    with warehouse.get_connection() as conn:
        ensure_raw_tables(conn)
        load_catalog(conn, locations.catalog_dir)
        loaded = {
            name: load_folder(conn, name, locations.landing_dir / name, loaded_at)
            for name in LANDING_KINDS
        }
        inputs = refresh_inputs_digest(conn, locations.catalog_dir, config.as_of)
        if inputs is not None and inputs == _last_refresh_inputs(conn):
            # Nothing a refresh reads has changed: the published usage is already this one.
            context.log.info("usage refresh: nothing new since the last refresh")
            return {
                **usage_figures(conn),
                "unchanged": True,
                "events_loaded": 0,
                "rows": {
                    table: conn.execute(f"select count(*) from billing.{table}").fetchone()[0]
                    for table in USAGE_TABLES
                },
            }
    target = Path(dbt_project.project_dir) / "target"
    evaluated_from = datetime.now(UTC).replace(tzinfo=None)
    invocation = dbt.cli(
        [*USAGE_DBT_ARGS, *vars_args({"usage_as_of": config.as_of})],
        manifest=dbt_project.manifest_path,
        target_path=target / f"{INVOCATION_PREFIX}-{uuid.uuid4().hex[:12]}",
    )
    invocation.wait()
    save_partial_parse(invocation.target_path)
    prune_invocation_folders(target, prefix=INVOCATION_PREFIX)
    with warehouse.get_connection() as conn:
        figures = usage_figures(conn)
        figures.update(alert_figures(conn, evaluated_from))
        figures["spend_caps_reached_webhooks"] = _queue_spend_cap_webhooks(conn)
        counts = publish_marts(conn, locations.output_dir / "marts")
        _record_refresh_inputs(conn, inputs)
    figures["unchanged"] = False
    figures["events_loaded"] = loaded["events"].rows_loaded if "events" in loaded else 0
    figures["rows"] = {name: counts.get(name, 0) for name in USAGE_TABLES}
    return figures


def refresh_inputs_digest(conn, catalog_dir: Path, as_of: str) -> str | None:
    """What a refresh's result depends on, as one digest: the landing files loaded, the catalog's
    files, the closes and finalizations (spend caps and alerts read what they billed), the
    instant asked for and the dbt project (its manifest). None when the refresh must run anyway:
    with no event loaded the instant is the wall clock."""
    if not conn.execute("select count(*) from raw.events").fetchone()[0]:
        return None
    digest = hashlib.sha256(f"as_of={as_of}".encode())
    for sql in (
        "select input_kind, count(*), max(loaded_at), sum(rows_loaded) from raw.loaded_files "
        "group by input_kind order by input_kind",
        "select count(*), max(closed_at) from raw.closed_months",
        "select count(*), max(started_at), max(finished_at) from raw.finalizations",
    ):
        try:
            digest.update(repr(conn.execute(sql).fetchall()).encode())
        except duckdb.CatalogException:  # no close or finalization yet
            digest.update(b"none")
    for path in [*sorted(catalog_dir.glob("*.csv")), dbt_project.manifest_path]:
        digest.update(path.name.encode() + hashlib.sha256(path.read_bytes()).digest())
    return digest.hexdigest()


def _last_refresh_inputs(conn) -> str | None:
    """The digest of the last refresh, if its tables are all still there."""
    try:
        row = conn.execute("select inputs_digest from raw.usage_refresh_inputs").fetchone()
        for table in USAGE_TABLES:
            conn.execute(f"select 1 from billing.{table} limit 0")
    except duckdb.CatalogException:
        return None
    return row[0] if row else None


def _record_refresh_inputs(conn, inputs: str | None) -> None:
    """Written last, once the refresh's tables are published: a refresh that fails before leaves
    the previous digest, so the next one computes again."""
    conn.execute(
        "create table if not exists raw.usage_refresh_inputs "
        "(inputs_digest varchar, refreshed_at timestamp not null)"
    )
    conn.execute("delete from raw.usage_refresh_inputs")
    conn.execute(
        "insert into raw.usage_refresh_inputs values (?, ?)",
        [inputs, datetime.now(UTC).replace(tzinfo=None)],
    )


def _queue_spend_cap_webhooks(conn) -> int:
    """Queue `subscription.spend_cap_reached` for the caps this refresh found reached
    (docs/rules.md §12b); an invalid webhook configuration fails the refresh, as it fails a
    close, rather than leave events unsent without a word."""
    from orchestration.webhooks.config import load_settings
    from orchestration.webhooks.delivery import utc_now
    from orchestration.webhooks.spend_caps import enqueue_spend_caps_reached

    return enqueue_spend_caps_reached(conn, load_settings(), utc_now())


def usage_figures(conn) -> dict:
    """What one refresh computed: subscriptions, events and amount to date per currency (exact,
    as text), and its instant."""
    subscriptions, events, as_of = conn.execute(
        "select count(*), coalesce(sum(events_count), 0), max(as_of_at) "
        "from billing.fct_usage_current_subscriptions"
    ).fetchone()
    amounts = {
        currency: str(total)
        for currency, total in conn.execute(
            "select currency, sum(amount) from billing.fct_usage_current_subscriptions "
            "group by currency order by currency"
        ).fetchall()
    }
    return {
        "subscriptions": subscriptions,
        "events": int(events),
        "as_of": as_of.isoformat() if as_of else None,
        "amount_to_date": amounts,
    }


def alert_figures(conn, evaluated_from: datetime) -> dict:
    """Usage alerts of this refresh (docs/rules.md §21): the thresholds crossed are queued as
    alert.triggered webhooks (docs/webhooks.md); returns alerts evaluated and fired."""
    from orchestration.webhooks.alerts import enqueue_alerts
    from orchestration.webhooks.config import load_settings

    evaluated, fired = conn.execute(
        "select count(*), count(triggered.triggered_alert_id) "
        "from intermediate.int_alert_evaluations as evaluations "
        "left join billing.fct_alerts_triggered as triggered "
        "on evaluations.evaluation_id = triggered.triggered_alert_id "
        "where evaluations.evaluated_at >= ?",
        [evaluated_from],
    ).fetchone()
    queued = enqueue_alerts(conn, load_settings(), datetime.now(UTC).replace(tzinfo=None))
    return {
        "alerts_evaluated": evaluated,
        "alerts_fired": fired,
        "alert_webhooks_queued": queued["deliveries"],
    }


def _metadata(key: dg.AssetKey, figures: dict) -> dict:
    table = key.path[-1]
    metadata: dict = {"dagster/row_count": figures["rows"].get(table, 0)}
    if table == "fct_usage_current_subscriptions":
        # Numbers Dagster plots across refreshes; amounts stay exact as text.
        metadata["subscriptions"] = dg.MetadataValue.int(figures["subscriptions"])
        metadata["events"] = dg.MetadataValue.int(figures["events"])
        metadata["events_loaded"] = dg.MetadataValue.int(figures["events_loaded"])
        metadata["spend_cap_webhooks_queued"] = dg.MetadataValue.int(
            figures.get("spend_caps_reached_webhooks", 0)
        )
        metadata["refresh_seconds"] = dg.MetadataValue.float(figures["seconds"])
        metadata["unchanged"] = dg.MetadataValue.bool(figures["unchanged"])
        metadata["alerts_evaluated"] = dg.MetadataValue.int(figures.get("alerts_evaluated", 0))
        metadata["alerts_fired"] = dg.MetadataValue.int(figures.get("alerts_fired", 0))
        metadata["alert_webhooks_queued"] = dg.MetadataValue.int(
            figures.get("alert_webhooks_queued", 0)
        )
        metadata["as_of"] = dg.MetadataValue.text(figures["as_of"] or "")
        for currency, amount in figures["amount_to_date"].items():
            metadata[f"amount_to_date_{currency}"] = dg.MetadataValue.text(amount)
    return metadata


usage_refresh_job = dg.define_asset_job(
    name="usage_refresh",
    selection=dg.AssetSelection.assets(*USAGE_ASSET_KEYS),
    executor_def=dg.in_process_executor,
    description="Current usage between closes (docs/current-usage.md).",
)

# Every 15 minutes, for usage that landed through a path the sensor does not watch (the API's
# journal is flushed into landing/ files too, which the sensor sees).
usage_refresh_schedule = dg.ScheduleDefinition(
    name="usage_refresh_every_15_minutes",
    job=usage_refresh_job,
    cron_schedule="*/15 * * * *",
    default_status=dg.DefaultScheduleStatus.STOPPED,
)


def landing_fingerprint(landing: Path) -> str:
    """The newest change under landing/: files added, replaced or grown change it. Hidden and
    temporary files, and the API's spool files not sealed yet, are not landed files."""
    newest, count = 0, 0
    if landing.is_dir():
        for path in landing.rglob("*"):
            if (
                path.is_file()
                and not path.name.startswith(".")
                and path.suffix not in (".spool", ".tmp")
            ):
                stat = path.stat()
                newest = max(newest, stat.st_mtime_ns)
                count += 1
    return f"{count}:{newest}"


@dg.sensor(
    job=usage_refresh_job,
    minimum_interval_seconds=30,
    default_status=dg.DefaultSensorStatus.STOPPED,
    description="Refresh current usage when files arrive in the landing folder.",
)
def usage_refresh_on_landing(context: dg.SensorEvaluationContext):
    fingerprint = landing_fingerprint(current_locations().landing_dir)
    if fingerprint == context.cursor:
        return dg.SkipReason("no new landing file")
    context.update_cursor(fingerprint)
    return dg.RunRequest(run_key=f"landing-{fingerprint}")
