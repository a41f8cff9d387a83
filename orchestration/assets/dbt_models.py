"""The dbt project as assets: one dbt invocation per close (or per finalization)."""

import json
import shutil
from collections.abc import Mapping
from datetime import UTC, datetime
from functools import cache
from pathlib import Path
from typing import Any

import dagster as dg
from dagster_dbt import DagsterDbtTranslator, DbtCliResource, dbt_assets
from dagster_duckdb import DuckDBResource

from orchestration.dbt_in_process import vars_args
from orchestration.partitions import close_window_vars, monthly_partitions, window_of
from orchestration.project import dbt_project, save_partial_parse

# The dbt source of the frozen tables read back as earlier state
# (dbt_project/models/finalized/_ledger__sources.yml, docs/contributing.md "dbt").
FROZEN_STATE_SOURCE = "ledger"
# The key prefix of that source's tables: not their models' keys, which they would duplicate.
EARLIER_STATE_PREFIX = "earlier_state"


class BillingDbtTranslator(DagsterDbtTranslator):
    """Keys are [schema, model] (billing/fct_invoices); groups are the layer folders.

    The `ledger` source is the finalized models' own tables read as earlier state. dbt's graph
    shows that edge; Dagster's cannot: the frozen models are built from what reads them, so the
    dep would be a cycle (and the source's default key is the model's key). Its tables get keys
    of their own, and the models that read them no dep on them."""

    def get_asset_spec(self, manifest: Mapping[str, Any], unique_id: str, project: Any):
        spec = super().get_asset_spec(manifest, unique_id, project)
        node = self.get_resource_props(manifest, unique_id)
        if node["resource_type"] == "source" and node["source_name"] == FROZEN_STATE_SOURCE:
            return spec.replace_attributes(
                key=dg.AssetKey([EARLIER_STATE_PREFIX, node["schema"], node["name"]])
            )
        if node["resource_type"] in ("model", "seed", "snapshot"):
            return spec.replace_attributes(
                key=dg.AssetKey([node["schema"], node["name"]]),
                group_name=self._group(node),
                deps=[dep for dep in spec.deps if dep.asset_key.path[0] != EARLIER_STATE_PREFIX],
            )
        return spec

    def get_asset_check_spec(self, asset_spec, manifest, unique_id, project):
        """A dbt test as an asset check, described by the test's own `description` in YAML
        (dagster-dbt only reads `meta.description`), so the UI says what a failure means."""
        spec = super().get_asset_check_spec(asset_spec, manifest, unique_id, project)
        if spec is None:
            return None
        test = manifest["nodes"].get(unique_id, {})
        description = (test.get("description") or "").strip()
        if description and not spec.description:
            spec = dg.AssetCheckSpec(
                name=spec.name,
                asset=spec.asset_key,
                description=description,
                additional_deps=spec.additional_deps,
                blocking=spec.blocking,
                metadata=spec.metadata,
                automation_condition=spec.automation_condition,
            )
        return spec

    @staticmethod
    def _group(node: Mapping[str, Any]) -> str:
        path = node.get("original_file_path", "")
        for layer in ("staging", "intermediate", "finalized", "marts"):
            if f"/models/{layer}/" in path:
                return layer
        return "reference"


class DbtRunConfig(dg.Config):
    """finalize: freeze the partition's month (docs/conventions.md) instead of computing drafts."""

    finalize: bool = False


@dbt_assets(
    manifest=dbt_project.manifest_path,
    project=dbt_project,
    # Unit tests and the data tests tagged `suite_only` (the key tests of staging and intermediate
    # models, docs/performance.md "What runs where") run in `make test`, not in every close;
    # current usage has its own job (orchestration/assets/usage.py).
    exclude="test_type:unit tag:usage tag:suite_only",
    partitions_def=monthly_partitions,
    backfill_policy=dg.BackfillPolicy.single_run(),
    dagster_dbt_translator=BillingDbtTranslator(),
    pool="duckdb_writer",
    name="billing_dbt_models",
)
def billing_dbt_models(
    context: dg.AssetExecutionContext,
    config: DbtRunConfig,
    dbt: DbtCliResource,
    warehouse: DuckDBResource,
):
    """Build the billing models for the close window; freeze a month when finalizing."""
    start, end = window_of(context)
    if config.finalize and len(context.partition_keys) != 1:
        raise dg.Failure("finalize one month at a time")
    window = close_window_vars(start, end, finalize=config.finalize)
    invocation = dbt.cli(["build", "--log-level-file", "none", *vars_args(window)], context=context)
    # dbt has finished and closed the warehouse: the row counts and money totals below read it.
    events = list(invocation.stream())
    save_partial_parse(invocation.target_path)
    prune_invocation_folders(invocation.target_path.parent)
    with warehouse.get_connection() as conn:
        if not config.finalize:
            record_closed_months(conn, context.partition_keys, context.run_id)
        for event in events:
            if isinstance(event, dg.Output):
                key = context.asset_key_for_output(event.output_name)
                event = event.with_metadata({**event.metadata, **model_figures(conn, key)})
            yield event


# The money marts and the amount columns whose totals per currency their metadata carries.
MONEY_COLUMNS = {
    "fct_invoices": "total_amount",
    "fct_invoice_lines": "amount",
    "fct_credit_notes": "total_amount",
    "fct_wallet_transactions": "amount",
    "fct_invoice_restatements": "difference_amount",
}


def model_figures(conn, key: dg.AssetKey) -> dict[str, Any]:
    """Row count of a model built as a table (a view is not counted: counting would compute it),
    and for a money mart its total per currency, exact, as text."""
    schema, name = key.path[-2], key.path[-1]
    kind = conn.execute(
        "select table_type from information_schema.tables where table_schema = ? "
        "and table_name = ?",
        [schema, name],
    ).fetchone()
    if not kind or kind[0] != "BASE TABLE":
        return {}
    figures: dict[str, Any] = {
        "dagster/row_count": conn.execute(f'select count(*) from "{schema}"."{name}"').fetchone()[0]
    }
    column = MONEY_COLUMNS.get(name) if schema == "billing" else None
    if column:
        for currency, total in conn.execute(
            f'select currency, sum({column}) from "{schema}"."{name}" '
            "group by currency order by currency"
        ).fetchall():
            figures[f"{column}_{currency}"] = dg.MetadataValue.text(str(total))
    return figures


# dagster-dbt gives every invocation a folder of its own under target/ (~8 MB: manifest, compiled
# SQL, run results, dbt.log), so that two runs never write each other's. Nothing removes them: a
# daily close would grow target/ by gigabytes a year. The newest ones stay, to read after a run.
KEPT_INVOCATION_FOLDERS = 10


def prune_invocation_folders(
    target: Path, keep: int = KEPT_INVOCATION_FOLDERS, prefix: str = "billing_dbt_models"
) -> None:
    """Remove all but the `keep` newest dbt invocation folders of an asset under `target`."""
    folders = sorted(
        (path for path in target.glob(f"{prefix}-*") if path.is_dir()),
        key=lambda path: path.stat().st_mtime,
        reverse=True,
    )
    for folder in folders[keep:]:
        shutil.rmtree(folder, ignore_errors=True)


def record_closed_months(conn, partition_keys: list[str], run_id: str) -> None:
    """Remember which months were closed, so a later close backfills the ones missing."""
    conn.execute(
        "create table if not exists raw.closed_months "
        "(billing_month date not null, closed_at timestamp not null, run_id varchar not null)"
    )
    # UTC to the second, like the loader's loaded_at, which runs.py compares it with.
    closed_at = datetime.now(UTC).replace(tzinfo=None, microsecond=0)
    conn.executemany(
        "insert into raw.closed_months values (cast(? || '-01' as date), ?, ?)",
        [[key, closed_at, run_id] for key in partition_keys],
    )


@cache
def _model_asset_keys() -> dict[str, dg.AssetKey]:
    """Every dbt model's asset key, read from the manifest once per process."""
    manifest = json.loads(dbt_project.manifest_path.read_text())
    return {
        node["name"]: dg.AssetKey([node["schema"], node["name"]])
        for node in manifest["nodes"].values()
        if node["resource_type"] == "model"
    }


def dbt_asset_keys_tagged(tag: str) -> list[dg.AssetKey]:
    """The asset keys of the dbt models carrying a dbt tag, from the manifest."""
    manifest = json.loads(dbt_project.manifest_path.read_text())
    return [
        dg.AssetKey([node["schema"], node["name"]])
        for node in manifest["nodes"].values()
        if node["resource_type"] == "model" and tag in node["tags"]
    ]


def dbt_asset_key(model_name: str) -> dg.AssetKey:
    """The asset key of a dbt model, from the manifest (never hand-written: pitfall 14)."""
    return _model_asset_keys()[model_name]
