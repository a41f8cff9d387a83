"""The `meterhouse` command called in-process leaves the caller's environment as it found it."""

import os

from orchestration.cli import main
from orchestration.settings import COMMAND_ENVIRONMENT


def test_a_command_puts_back_the_locations_and_dagster_instance_it_exported(tmp_path, capsys):
    before = {name: os.environ.get(name) for name in COMMAND_ENVIRONMENT}
    warehouse = tmp_path / "work" / "warehouse.duckdb"

    # Refused (nothing closed yet), after the command exported its locations and instance.
    assert main(["finalize", "--month", "2026-10", "--warehouse", str(warehouse)]) == 2

    assert "2026-10 has not been closed" in capsys.readouterr().err
    assert (warehouse.parent / "dagster_home" / "dagster.yaml").exists()
    # A later command without --warehouse must not land in this one's warehouse or instance.
    assert {name: os.environ.get(name) for name in COMMAND_ENVIRONMENT} == before
