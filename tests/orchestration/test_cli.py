"""What a command leaves behind: the caller's environment as it was, a bounded dbt target/."""

import os

from orchestration.assets.dbt_models import KEPT_INVOCATION_FOLDERS, prune_invocation_folders
from orchestration.cli import main
from orchestration.settings import COMMAND_ENVIRONMENT, REPO_ROOT


def test_a_command_puts_back_the_locations_and_dagster_instance_it_exported(tmp_path, capsys):
    before = {name: os.environ.get(name) for name in COMMAND_ENVIRONMENT}
    warehouse = tmp_path / "work" / "warehouse.duckdb"

    # Refused (nothing closed yet), after the command exported its locations and instance.
    assert main(["finalize", "--month", "2026-10", "--warehouse", str(warehouse)]) == 2

    assert "2026-10 has not been closed" in capsys.readouterr().err
    assert (warehouse.parent / "dagster_home" / "dagster.yaml").exists()
    # A later command without --warehouse must not land in this one's warehouse or instance.
    assert {name: os.environ.get(name) for name in COMMAND_ENVIRONMENT} == before


def test_only_the_newest_dbt_invocation_folders_are_kept(tmp_path):
    folders = [tmp_path / f"billing_dbt_models-run{i:02d}-0000000" for i in range(12)]
    for age, folder in enumerate(reversed(folders)):  # folders[0] is the oldest
        (folder / "compiled").mkdir(parents=True)
        os.utime(folder, (1_700_000_000 - age * 60, 1_700_000_000 - age * 60))
    other = tmp_path / "manifest.json"
    other.write_text("{}")

    prune_invocation_folders(tmp_path, keep=10)

    assert sorted(p.name for p in tmp_path.iterdir()) == sorted(
        [f.name for f in folders[2:]] + ["manifest.json"]
    )


def test_closes_do_not_pile_up_dbt_invocation_folders(scenario):
    """The session's closes and finalizations (the shared scenario, and every module before)."""
    folders = list((REPO_ROOT / "target").glob("billing_dbt_models-*"))
    assert 0 < len(folders) <= KEPT_INVOCATION_FOLDERS
