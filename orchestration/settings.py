"""Where things live: the four locations of README.md resolved from MH_* environment variables.

Defaults are relative to the repository root, because dbt runs there. Paths are made absolute so
that Dagster, dbt and DuckDB agree whatever the working directory. Importing this module changes
nothing: `resolve_locations` is pure, and the entry points (each CLI command, the Dagster code
location in orchestration/definitions.py) apply the result with `export_locations`.
"""

import os
import sys
from collections.abc import Iterator, Mapping
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

REPO_ROOT = Path(__file__).resolve().parent.parent

DEFAULTS = {
    "MH_CATALOG_DIR": "seeds/catalog",
    "MH_LANDING_DIR": "data/landing",
    "MH_WAREHOUSE": "data/warehouse.duckdb",
    "MH_OUTPUT_DIR": "data/output",
}

# The venv's own executables (dbt, dagster, bean-check), called by absolute path so that an
# unactivated venv works without touching PATH.
VENV_BIN = str(Path(sys.executable).parent)


def _absolute(value: str) -> str:
    path = Path(value)
    return str(path if path.is_absolute() else REPO_ROOT / path)


@dataclass(frozen=True, slots=True)
class Locations:
    """The catalog, landing, warehouse and output locations of one Meterhouse installation."""

    catalog_dir: Path
    landing_dir: Path
    warehouse: Path
    output_dir: Path


def resolve_locations(
    environ: Mapping[str, str], overrides: Mapping[str, str | None] | None = None
) -> dict[str, str]:
    """Every MH_* location as an absolute path: override > environment > default."""
    overrides = overrides or {}
    return {
        name: _absolute(overrides.get(name) or environ.get(name) or default)
        for name, default in DEFAULTS.items()
    }


def export_locations(overrides: Mapping[str, str | None] | None = None) -> Locations:
    """Resolve every MH_* location and export it into this process's environment.

    Exporting keeps Dagster resources (`dg.EnvVar`) and dbt's `profiles.yml` on the same files.
    """
    os.environ.update(resolve_locations(os.environ, overrides))
    return current_locations()


# What a command exports for Dagster and dbt while it runs (locations, instance, DuckDB memory).
COMMAND_ENVIRONMENT = (*DEFAULTS, "DAGSTER_HOME", "MH_DUCKDB_MEMORY_LIMIT", "MH_DATA_FIRST_MONTH")


@contextmanager
def command_environment() -> Iterator[None]:
    """Put back what a command exported once it returns.

    A command called in-process (tests, notebooks) must not leave its warehouse or Dagster
    instance behind as the default of the next command.
    """
    with restored_environment(*COMMAND_ENVIRONMENT):
        yield


@contextmanager
def restored_environment(*names: str) -> Iterator[None]:
    """Put these environment variables back as they were (unset if they were) on exit."""
    saved = {name: os.environ.get(name) for name in names}
    try:
        yield
    finally:
        for name, value in saved.items():
            if value is None:
                os.environ.pop(name, None)
            else:
                os.environ[name] = value


def current_locations() -> Locations:
    """The locations as currently exported (defaults when nothing was set)."""
    values = resolve_locations(os.environ)
    return Locations(
        catalog_dir=Path(values["MH_CATALOG_DIR"]),
        landing_dir=Path(values["MH_LANDING_DIR"]),
        warehouse=Path(values["MH_WAREHOUSE"]),
        output_dir=Path(values["MH_OUTPUT_DIR"]),
    )
