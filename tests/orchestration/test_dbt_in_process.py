"""dbt in the command's process (orchestration/dbt_in_process.py): one parse per process and
warehouse, the warehouse released when dbt is done, dbt's failures reported."""

import subprocess
import sys

import duckdb
import pytest

from orchestration import dbt_in_process
from orchestration.settings import REPO_ROOT


@pytest.fixture
def warehouse(tmp_path, monkeypatch):
    path = tmp_path / "in_process.duckdb"
    monkeypatch.setenv("MH_WAREHOUSE", str(path))
    monkeypatch.setenv("MH_BILLING_PERIOD_START", "2026-10-01")
    monkeypatch.setenv("MH_BILLING_PERIOD_END", "2026-11-01")
    return path


def _build(tmp_path, name: str, *selection: str):
    return dbt_in_process.run_dbt(
        ["build", "--select", *selection],
        project_dir=REPO_ROOT,
        profiles_dir=REPO_ROOT,
        target_path=tmp_path / name,
    )


def test_one_parse_per_process_and_the_warehouse_released(tmp_path, warehouse, monkeypatch):
    parses = []
    parse = dbt_in_process._parse
    monkeypatch.setattr(dbt_in_process, "_parse", lambda *args: parses.append(args) or parse(*args))

    returncode, events, errors = _build(tmp_path, "first", "int_calendar_months")
    assert (returncode, errors) == (0, [])
    results = [e for e in events if e["info"]["name"] == "LogModelResult"]
    assert [e["data"]["node_info"]["node_name"] for e in results] == ["int_calendar_months"]

    # dbt-duckdb closed its database: this process opens it with other settings, and so does
    # another process (a subprocess of dbt used to release it by exiting).
    with duckdb.connect(str(warehouse), config={"threads": 1}) as conn:
        assert conn.execute("select count(*) from intermediate.int_calendar_months").fetchone() == (
            2760,
        )
    other = subprocess.run(
        [sys.executable, "-c", f"import duckdb; duckdb.connect({str(warehouse)!r}).close()"],
        capture_output=True,
        text=True,
    )
    assert other.returncode == 0, other.stderr

    assert _build(tmp_path, "second", "int_calendar_months")[0] == 0
    assert len(parses) == 1  # the second command reused the first one's manifest


def test_a_failing_model_fails_the_command_with_dbt_s_message(tmp_path, warehouse):
    # A model reading an input that does not exist in this empty warehouse.
    returncode, _, errors = _build(tmp_path, "failing", "stg_landing__events")
    assert returncode == 1
    assert any("events" in error for error in errors), errors


def test_the_manifest_follows_the_warehouse(tmp_path, warehouse, monkeypatch):
    """The manifest names the warehouse's catalog: another warehouse gets a manifest of its own."""
    assert _build(tmp_path, "one", "int_calendar_months")[0] == 0
    other = tmp_path / "other_warehouse.duckdb"
    monkeypatch.setenv("MH_WAREHOUSE", str(other))
    assert _build(tmp_path, "two", "int_calendar_months")[0] == 0
    with duckdb.connect(str(other)) as conn:
        assert conn.execute("select count(*) from intermediate.int_calendar_months").fetchone() == (
            2760,
        )
