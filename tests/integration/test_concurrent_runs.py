"""Two runs on one warehouse, and readers during a run (issue #6, part 4; docs/operations.md).

A run (close, finalize, demo) holds an advisory lock on `<warehouse>.lock`: a second run is
refused at once with exit code 2, or with --wait starts when the first ends. Readers of the
Parquet marts see a whole file, the old one or the new one, while a run replaces them.
"""

import shutil
import subprocess
import time
from datetime import date
from pathlib import Path

import duckdb
import pytest
from cli_runs import (
    MONTH,
    documents,
    finish,
    marts,
    meterhouse,
    read_mart,
    read_snapshot,
    snapshot,
    start,
)

pytestmark = pytest.mark.integration


SNAPSHOT = "billing_snapshot.duckdb"


def _wait_for_the_lock(process: subprocess.Popen, warehouse: Path) -> None:
    """Return once `process` holds the warehouse lock (it writes its pid into the lock file)."""
    lock = warehouse.with_name(f"{warehouse.name}.lock")
    deadline = time.monotonic() + 300
    while time.monotonic() < deadline:
        assert process.poll() is None, finish(process)[-3000:]
        if lock.exists() and lock.read_text().strip() == str(process.pid):
            return
        time.sleep(0.05)
    pytest.fail("the run did not take the warehouse lock")


def test_a_second_run_is_refused_while_a_close_runs(cli_reference, cli_workspace):
    shutil.copytree(cli_reference["landing"], cli_workspace / "landing")
    warehouse = cli_workspace / "warehouse.duckdb"
    first = start(cli_workspace, "close", "--month", MONTH)
    _wait_for_the_lock(first, warehouse)
    for command in ("close", "finalize"):
        refused = meterhouse(cli_workspace, command, "--month", MONTH, returncode=2)
        assert (
            f"meterhouse: another close or finalization is running on {warehouse} "
            f"(pid {first.pid}); wait for it to end, or pass --wait" in refused
        )
    assert first.poll() is None  # both were refused while the first was running
    output = finish(first)
    assert first.returncode == 0, output[-3000:]
    # The refused runs changed nothing: the warehouse is what one close makes.
    assert snapshot(warehouse) == cli_reference["closed_rows"]
    assert marts(cli_workspace / "output") == cli_reference["closed_marts"]


def test_marts_stay_whole_and_a_waiting_run_follows_during_a_finalization(
    cli_reference, cli_workspace
):
    shutil.copytree(cli_reference["closed"], cli_workspace)
    warehouse = cli_workspace / "warehouse.duckdb"
    before, after = cli_reference["closed_marts"], cli_reference["final_marts"]
    first = start(cli_workspace, "finalize", "--month", MONTH)
    _wait_for_the_lock(first, warehouse)
    waiting = start(cli_workspace, "finalize", "--month", MONTH, "--wait")
    # A BI tool reading the marts in a loop while the finalization replaces them: every read is
    # a whole file, as it was before the run or as the run leaves it.
    marts_folder = cli_workspace / "output" / "marts"
    rounds = 0
    with duckdb.connect() as conn:
        while first.poll() is None or waiting.poll() is None:
            for path in sorted(marts_folder.glob("*.parquet")):
                assert read_mart(conn, path) in (before[path.name], after[path.name]), path.name
            invoices = read_snapshot(marts_folder / SNAPSHOT, "fct_invoices")
            assert invoices in (
                before[f"{SNAPSHOT}/fct_invoices"],
                after[f"{SNAPSHOT}/fct_invoices"],
            )
            rounds += 1
            time.sleep(0.1)  # a reader, not a load test: leave the two cores to the runs
    first_output, waiting_output = finish(first), finish(waiting)
    assert first.returncode == 0, first_output[-3000:]
    assert waiting.returncode == 0, waiting_output[-3000:]
    assert f"Waiting for pid {first.pid} to finish its run on {warehouse}" in waiting_output
    assert rounds > 1
    assert before[f"{SNAPSHOT}/fct_invoices"] != after[f"{SNAPSHOT}/fct_invoices"]

    # The second finalization found everything frozen, rendered and synced: nothing changed but
    # its own record.
    rows = snapshot(warehouse)
    assert rows.pop("raw.finalizations") == [(date.fromisoformat(f"{MONTH}-01"),)] * 2
    expected = dict(cli_reference["final_rows"])
    expected.pop("raw.finalizations")
    assert rows == expected
    assert documents(cli_workspace / "output") == cli_reference["final_documents"]
    assert marts(cli_workspace / "output") == after


def test_a_run_is_refused_while_another_program_has_the_warehouse_open(
    cli_reference, cli_workspace
):
    shutil.copytree(cli_reference["closed"], cli_workspace)
    warehouse = cli_workspace / "warehouse.duckdb"
    # A BI tool (or a notebook) with the live file open, read-only.
    with duckdb.connect(str(warehouse), read_only=True):
        refused = meterhouse(cli_workspace, "finalize", "--month", MONTH, returncode=2)
    assert f"meterhouse: the warehouse {warehouse} is open in another program" in refused
    assert "Could not set lock on file" in refused
    assert snapshot(warehouse) == cli_reference["closed_rows"]
