"""Running the real `meterhouse` command on a workspace, and snapshots to compare runs with.

Shared by test_crash_recovery.py and test_concurrent_runs.py; the reference month they compare
with is built once per test session (`shared_reference`). (No conftest.py here: a second module
named conftest would shadow tests/conftest.py, which other test modules import.)
"""

import hashlib
import os
import shutil
import signal
import subprocess
import sys
import tempfile
import time
from datetime import date
from pathlib import Path
from typing import IO

import duckdb
import pytest

from orchestration.settings import REPO_ROOT

MONTH = "2026-08"
MH = Path(sys.executable).parent / "meterhouse"
CATALOG = REPO_ROOT / "seeds" / "catalog"
COMPARED_SCHEMAS = ("raw", "ledger", "billing")
LANDING_TABLES = (
    "customers",
    "subscriptions",
    "events",
    "wallets",
    "wallet_transactions",
    "applied_coupons",
    "credit_notes",
    "alerts",
)
# When a run happened, not what it billed: these columns take the wall clock (or the id) of the
# run that wrote the row, so a re-run writes other values. No PDF or ledger entry shows any of
# them. Every other column of every raw, ledger and billing table must be equal. (Parquet marts
# are keyed billing.<file stem>.)
WALL_CLOCK_COLUMNS = frozenset(
    {
        *(
            f"raw.{table}.loaded_at"
            for table in (*LANDING_TABLES, "loaded_files", "rejected_inputs")
        ),
        "raw.closed_months.closed_at",
        "raw.closed_months.run_id",
        "raw.finalizations.started_at",
        "raw.finalizations.finished_at",
        "ledger.finalized_customer_numbers.assigned_at",
        "ledger.finalized_invoices.finalized_at",
        "ledger.finalized_credit_notes.finalized_at",
        "billing.fct_invoices.finalized_at",
        "billing.rejected_inputs.loaded_at",
        "billing.fct_alerts_triggered.triggered_alert_id",
        "billing.fct_alerts_triggered.triggered_at",
    }
)


_outputs: dict[int, IO[str]] = {}


def environment(workspace: Path, crash_at: str | None = None) -> dict[str, str]:
    """The environment of a run on `workspace`: its own landing, warehouse, output, instance."""
    env = {
        **os.environ,
        "MH_CATALOG_DIR": str(CATALOG),
        "MH_LANDING_DIR": str(workspace / "landing"),
        "MH_WAREHOUSE": str(workspace / "warehouse.duckdb"),
        "MH_OUTPUT_DIR": str(workspace / "output"),
        "DAGSTER_HOME": str(workspace / "dagster_home"),
    }
    env.pop("MH_CRASH_AT", None)
    if crash_at:
        env["MH_CRASH_AT"] = crash_at
    return env


def start(workspace: Path, *args: str, crash_at: str | None = None) -> subprocess.Popen:
    """Start the CLI on `workspace` in a new session, so a crash point kills only its group.

    Its output goes to a temporary file (a pipe nobody reads would fill up and block the run);
    `finish()` waits for the run and returns that output.
    """
    output = tempfile.TemporaryFile("w+")
    process = subprocess.Popen(
        [str(MH), *args],
        env=environment(workspace, crash_at),
        stdout=output,
        stderr=subprocess.STDOUT,
        text=True,
        start_new_session=True,
    )
    _outputs[process.pid] = output
    return process


def finish(process: subprocess.Popen, timeout: float = 900) -> str:
    """Wait for a run started by `start()`; return what it printed."""
    process.wait(timeout=timeout)
    with _outputs.pop(process.pid) as output:
        output.seek(0)
        return output.read()


def meterhouse(
    workspace: Path, *args: str, crash_at: str | None = None, returncode: int = 0
) -> str:
    """Run the CLI to its end (or to its crash point); check how it ended; return its output."""
    process = start(workspace, *args, crash_at=crash_at)
    output = finish(process)
    if crash_at:
        assert process.returncode == -signal.SIGKILL, (crash_at, output[-3000:])
        assert_group_gone(process.pid)
    else:
        assert process.returncode == returncode, output[-3000:]
    return output


def assert_group_gone(pgid: int) -> None:
    """Nothing of a killed run survives (no orphaned dbt still writing the warehouse)."""
    deadline = time.monotonic() + 10
    while time.monotonic() < deadline:
        try:
            os.killpg(pgid, 0)
        except ProcessLookupError:
            return
        time.sleep(0.1)
    pytest.fail(f"processes of the killed run (group {pgid}) are still alive")


def snapshot(warehouse: Path) -> dict[str, list[tuple]]:
    """Every row of every raw, ledger and billing table, wall-clock columns left out.

    Opening the file read-write replays its WAL, as the next run will: a corrupt file fails here.
    """
    with duckdb.connect(str(warehouse)) as conn:
        tables = conn.execute(
            "select table_schema || '.' || table_name from information_schema.tables "
            "where table_type = 'BASE TABLE' and table_schema in (?, ?, ?) order by 1",
            list(COMPARED_SCHEMAS),
        ).fetchall()
        return {table: rows(conn, table, table) for (table,) in tables}


def rows(conn: duckdb.DuckDBPyConnection, relation: str, table: str) -> list[tuple]:
    """The rows of `relation` in a stable order, without the wall-clock columns of `table`."""
    columns = [
        column[0]
        for column in conn.execute(f"select * from {relation} limit 0").description
        if f"{table}.{column[0]}" not in WALL_CLOCK_COLUMNS
    ]
    return sorted(conn.execute(f"select {', '.join(columns)} from {relation}").fetchall(), key=repr)


def read_mart(conn: duckdb.DuckDBPyConnection, path: Path) -> list[tuple]:
    """One Parquet mart, as rows comparable with `marts()`."""
    return rows(conn, f"read_parquet('{path}')", f"billing.{path.stem}")


def read_snapshot(path: Path, table: str) -> list[tuple]:
    """One table of the marts' DuckDB snapshot (opened read-only, as a BI tool would)."""
    with duckdb.connect(str(path), read_only=True) as conn:
        return rows(conn, f"billing.{table}", f"billing.{table}")


def marts(output: Path) -> dict[str, list[tuple]]:
    """Every file under marts/ (a leftover shows as an entry) with its rows: a Parquet file's,
    or each table's of the DuckDB snapshot (as `<file>/<table>`)."""
    entries: dict[str, list[tuple]] = {}
    with duckdb.connect() as conn:
        for path in sorted((output / "marts").iterdir()):
            entries[path.name] = read_mart(conn, path) if path.suffix == ".parquet" else []
            if path.suffix == ".duckdb":
                with duckdb.connect(str(path), read_only=True) as snapshot_conn:
                    tables = snapshot_conn.execute(
                        "select table_name from information_schema.tables "
                        "where table_schema = 'billing' order by 1"
                    ).fetchall()
                entries |= {f"{path.name}/{t}": read_snapshot(path, t) for (t,) in tables}
    return entries


def documents(output: Path) -> dict[str, str]:
    """sha256 of every file under invoices/, credit_notes/ and accounting/, hidden ones too."""
    return {
        str(path.relative_to(output)): hashlib.sha256(path.read_bytes()).hexdigest()
        for folder in ("invoices", "credit_notes", "accounting")
        for path in sorted((output / folder).rglob("*"))
        if path.is_file()
    }


def build_reference(root: Path) -> dict:
    """One uninterrupted close and finalization of a small demo month, snapshotted after each.

    Returns the landing template, a copy of the closed workspace (where a finalization starts
    from) and the rows, marts and documents after the close and after the finalization.
    """
    from meterhouse_tools.demo_data import generate_demo_dataset

    landing = root / "landing"
    generate_demo_dataset(
        landing,
        months=1,
        customers=10,
        events=20_000,
        first_month=date.fromisoformat(f"{MONTH}-01"),
    )
    workspace = root / "reference"
    shutil.copytree(landing, workspace / "landing")
    meterhouse(workspace, "close", "--month", MONTH)
    closed = root / "closed"
    shutil.copytree(workspace, closed, ignore=shutil.ignore_patterns("dagster_home"))
    closed_rows = snapshot(workspace / "warehouse.duckdb")
    closed_marts = marts(workspace / "output")
    meterhouse(workspace, "finalize", "--month", MONTH)
    return {
        "root": root,
        "landing": landing,
        "closed": closed,
        "closed_rows": closed_rows,
        "closed_marts": closed_marts,
        "final_rows": snapshot(workspace / "warehouse.duckdb"),
        "final_marts": marts(workspace / "output"),
        "final_documents": documents(workspace / "output"),
    }


_reference: dict = {}


def shared_reference(tmp_path_factory: pytest.TempPathFactory) -> dict:
    """`build_reference()`, built on first use and shared by every module of the session."""
    if not _reference:
        _reference.update(build_reference(tmp_path_factory.mktemp("runs")))
    return _reference


def new_workspace(reference: dict, test_name: str) -> Path:
    """A fresh folder for one test's runs, under the reference's root."""
    # Letters, digits and underscores only: dbt-duckdb names the database after the file path.
    return reference["root"] / "".join(c if c.isalnum() else "_" for c in test_name)
