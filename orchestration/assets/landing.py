"""Landing inputs -> raw warehouse tables (docs/inputs.md): the catalog, the landing folders
and the rows quarantined on the way."""

from datetime import UTC, datetime

import dagster as dg
from dagster_duckdb import DuckDBResource

from orchestration.landing.catalog import load_catalog
from orchestration.landing.catalog_files import CATALOG_FILES
from orchestration.landing.loader import ensure_raw_tables, load_folder
from orchestration.landing.readers import LANDING_KINDS
from orchestration.partitions import monthly_partitions
from orchestration.settings import current_locations

# docs/inputs.md in load order (readers.LANDING_KINDS).
LANDING_FOLDERS = tuple(LANDING_KINDS)


@dg.multi_asset(
    specs=[
        *(
            dg.AssetSpec(["landing", f"catalog_{name}"], description=f"Catalog {name}.csv.")
            for name in CATALOG_FILES
        ),
        *(
            dg.AssetSpec(["landing", name], description=f"Validated, de-duplicated {name}.")
            for name in LANDING_FOLDERS
        ),
        dg.AssetSpec(["landing", "rejected_inputs"], description="Rows quarantined at load."),
    ],
    group_name="landing",
    partitions_def=monthly_partitions,
    backfill_policy=dg.BackfillPolicy.single_run(),
    pool="duckdb_writer",
)
def landing_inputs(context: dg.AssetExecutionContext, warehouse: DuckDBResource):
    """Load new catalog and landing files into raw tables; count what was read, kept, rejected."""
    locations = current_locations()
    loaded_at = datetime.now(UTC).replace(tzinfo=None, microsecond=0)
    with warehouse.get_connection() as conn:
        ensure_raw_tables(conn)
        catalog_counts = load_catalog(conn, locations.catalog_dir)
        stats = {
            name: load_folder(conn, name, locations.landing_dir / name, loaded_at)
            for name in LANDING_FOLDERS
        }
        rejected_total = conn.execute("select count(*) from raw.rejected_inputs").fetchone()[0]
    for name, rows in catalog_counts.items():
        yield dg.MaterializeResult(
            asset_key=["landing", f"catalog_{name}"], metadata={"dagster/row_count": rows}
        )
    for name, folder_stats in stats.items():
        context.log.info(f"{name}: {folder_stats.as_metadata()}")
        yield dg.MaterializeResult(
            asset_key=["landing", name],
            metadata={**folder_stats.as_metadata(), "dagster/row_count": folder_stats.rows_loaded},
        )
    yield dg.MaterializeResult(
        asset_key=["landing", "rejected_inputs"],
        metadata={
            "dagster/row_count": rejected_total,
            **{
                f"new_{name}_rejected": folder_stats.rows_rejected
                for name, folder_stats in stats.items()
            },
        },
    )
