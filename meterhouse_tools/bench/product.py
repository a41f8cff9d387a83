"""Drive the product on the bench's files: its locations, the real loader, dbt's timings."""

import json
import time
from pathlib import Path

import duckdb

from meterhouse_tools.bench.results import BenchOptions
from orchestration.settings import REPO_ROOT


def point_at(landing: Path, warehouse: Path, output: Path) -> None:
    """Export the MH_* locations for a warehouse (the product reads them at run time)."""
    from orchestration.settings import export_locations

    export_locations(
        {
            "MH_CATALOG_DIR": str(REPO_ROOT / "seeds" / "catalog"),
            "MH_LANDING_DIR": str(landing),
            "MH_WAREHOUSE": str(warehouse),
            "MH_OUTPUT_DIR": str(output),
        }
    )


def measure_load(options: BenchOptions, landing: Path, warehouse: Path) -> dict:
    """Load customers, subscriptions, then (timed) the events through the real loader."""
    from orchestration.landing.loader import load_folder

    conn = duckdb.connect(str(warehouse))
    try:
        load_folder(conn, "customers", landing / "customers")
        load_folder(conn, "subscriptions", landing / "subscriptions")
        started = time.perf_counter()
        stats = load_folder(conn, "events", landing / "events")
        seconds = time.perf_counter() - started
    finally:
        conn.close()
    return {"seconds": seconds, **stats.as_metadata()}


def latest_metadata(asset_key: list[str]) -> dict:
    """The metadata of an asset's latest materialization in the current Dagster instance."""
    import dagster as dg

    with dg.DagsterInstance.get() as instance:
        event = instance.get_latest_materialization_event(dg.AssetKey(asset_key))
    if event is None or event.asset_materialization is None:
        return {}
    return {k: v.value for k, v in event.asset_materialization.metadata.items()}


def dbt_timings(limit: int = 8) -> dict:
    """The latest dbt invocation (dagster-dbt's run_results.json): its wall time, the sum of its
    nodes' times and its slowest nodes, to split a close into dbt SQL and everything else."""
    candidates = sorted(
        (REPO_ROOT / "target").rglob("run_results.json"), key=lambda p: p.stat().st_mtime
    )
    if not candidates:
        return {}
    body = json.loads(candidates[-1].read_text())
    timed = sorted(
        ((r["unique_id"], float(r.get("execution_time") or 0.0)) for r in body["results"]),
        key=lambda item: -item[1],
    )
    return {
        "dbt_elapsed_seconds": round(float(body.get("elapsed_time") or 0.0), 2),
        "nodes": len(timed),
        "node_seconds_total": round(sum(seconds for _, seconds in timed), 2),
        "slowest": [(name, round(seconds, 2)) for name, seconds in timed[:limit]],
    }
