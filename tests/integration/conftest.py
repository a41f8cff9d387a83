"""The reference month of the crash and concurrency tests, built once per session."""

from pathlib import Path

import pytest
from cli_runs import build_reference


@pytest.fixture(scope="session")
def cli_reference(tmp_path_factory: pytest.TempPathFactory) -> dict:
    """An uninterrupted close and finalization (cli_runs.build_reference)."""
    return build_reference(tmp_path_factory.mktemp("runs"))


@pytest.fixture
def cli_workspace(cli_reference: dict, request: pytest.FixtureRequest) -> Path:
    """A fresh folder for one test's runs, under the reference's root."""
    # Letters, digits and underscores only: dbt-duckdb names the database after the file path.
    return cli_reference["root"] / "".join(c if c.isalnum() else "_" for c in request.node.name)
