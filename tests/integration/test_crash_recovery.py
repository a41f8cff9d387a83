"""A close or a finalization killed at any step, then re-run, ends exactly where an uninterrupted
run ends (issue #6, part 2): the same rows, the same PDF bytes, the same ledger bytes.

Each case runs the real `meterhouse` command in its own process group, kills the whole group with
SIGKILL at a named point (orchestration.faults, `MH_CRASH_AT`), checks what the kill left, re-runs
the same command and compares everything with the reference run on an identical copy of the
inputs (cli_runs.build_reference).
"""

import shutil
from pathlib import Path

import duckdb
import pytest
from cli_runs import (
    LANDING_TABLES,
    MONTH,
    documents,
    marts,
    meterhouse,
    snapshot,
)

pytestmark = pytest.mark.integration


def _invoice_count(reference: dict) -> int:
    return len([name for name in reference["final_documents"] if name.startswith("invoices/")])


def _leftovers(folder: Path) -> list[str]:
    return sorted(path.name for path in folder.glob(".*.tmp"))


def test_the_reference_month_is_worth_crashing(cli_reference):
    """Enough invoices to kill the PDF step half-way; lines and a ledger to lose."""
    assert _invoice_count(cli_reference) >= 5
    assert "accounting/ledger.beancount" in cli_reference["final_documents"]
    assert cli_reference["final_rows"]["ledger.finalized_invoice_lines"]


# A close killed mid-load (the 5th landing file's rows inserted, its transaction not committed)
# and mid-build (dbt reported int_charges_priced built; the invoices are not built yet).
@pytest.mark.parametrize("crash_at", ["landing_file_loading#5", "dbt_built:int_charges_priced"])
def test_a_killed_close_is_completed_by_a_rerun(cli_reference, cli_workspace, crash_at):
    shutil.copytree(cli_reference["landing"], cli_workspace / "landing")
    meterhouse(cli_workspace, "close", "--month", MONTH, crash_at=crash_at)

    killed = snapshot(cli_workspace / "warehouse.duckdb")  # reopens: the file is not corrupt
    assert killed.get("raw.closed_months", []) == []  # the month is not recorded as closed
    with duckdb.connect(str(cli_workspace / "warehouse.duckdb")) as conn:
        loaded_files = conn.execute("select count(*) from raw.loaded_files").fetchone()[0]
        for table in LANDING_TABLES:  # no row from a file that is not recorded as loaded
            unrecorded = conn.execute(
                f"select count(*) from raw.{table} "
                "where source_file not in (select source_file from raw.loaded_files)"
            ).fetchone()[0]
            assert unrecorded == 0, table
    if crash_at.startswith("landing"):
        assert loaded_files == 4  # four files committed; the fifth rolled back whole

    meterhouse(cli_workspace, "close", "--month", MONTH)
    assert snapshot(cli_workspace / "warehouse.duckdb") == cli_reference["closed_rows"]
    assert marts(cli_workspace / "output") == cli_reference["closed_marts"]


def test_a_finalization_killed_between_frozen_models_is_completed_by_a_rerun(
    cli_reference, cli_workspace
):
    shutil.copytree(cli_reference["closed"], cli_workspace)
    meterhouse(cli_workspace, "finalize", "--month", MONTH, crash_at="dbt_built:finalized_invoices")

    killed = snapshot(cli_workspace / "warehouse.duckdb")
    assert len(killed["ledger.finalized_invoices"]) == _invoice_count(cli_reference)
    assert killed["ledger.finalized_invoice_lines"] == []  # killed before the lines were frozen
    assert documents(cli_workspace / "output") == {}
    # Until the finalization is completed, a close (which could change the drafts the missing
    # lines are frozen from) is refused.
    refused = meterhouse(cli_workspace, "close", "--month", MONTH, returncode=2)
    assert f"the finalization of {MONTH} did not finish" in refused

    _rerun_the_finalization_and_compare(cli_reference, cli_workspace)


def test_a_finalization_killed_while_writing_pdfs_is_completed_by_a_rerun(
    cli_reference, cli_workspace
):
    shutil.copytree(cli_reference["closed"], cli_workspace)
    meterhouse(cli_workspace, "finalize", "--month", MONTH, crash_at="pdf_writing#4")

    # Three PDFs published whole (the re-run keeps them: it skips existing files), the fourth
    # complete in its temporary file but never under its own name. (The ledger may be written
    # already: Dagster may run that asset first.)
    published = {
        name: digest
        for name, digest in documents(cli_workspace / "output").items()
        if name.startswith("invoices/") and not Path(name).name.startswith(".")
    }
    assert len(published) == 3
    assert published.items() <= cli_reference["final_documents"].items()
    assert len(_leftovers(cli_workspace / "output" / "invoices" / MONTH)) == 1

    _rerun_the_finalization_and_compare(cli_reference, cli_workspace)


def test_a_finalization_killed_while_writing_the_ledger_is_completed_by_a_rerun(
    cli_reference, cli_workspace
):
    shutil.copytree(cli_reference["closed"], cli_workspace)
    meterhouse(cli_workspace, "finalize", "--month", MONTH, crash_at="ledger_writing")

    accounting = cli_workspace / "output" / "accounting"
    assert not (accounting / "ledger.beancount").exists()  # no ledger rather than half of one
    assert len(_leftovers(accounting)) == 1

    _rerun_the_finalization_and_compare(cli_reference, cli_workspace)


def _rerun_the_finalization_and_compare(reference: dict, workspace: Path) -> None:
    meterhouse(workspace, "finalize", "--month", MONTH)
    assert snapshot(workspace / "warehouse.duckdb") == reference["final_rows"]
    assert documents(workspace / "output") == reference["final_documents"]
    assert marts(workspace / "output") == reference["final_marts"]
