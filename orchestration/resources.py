"""Resources; configuration only from the MH_* environment (STYLE §8)."""

import importlib.metadata
from collections.abc import Sequence
from functools import cached_property
from pathlib import Path

import dagster as dg
from dagster_dbt import DbtCliResource
from dagster_duckdb import DuckDBResource
from packaging import version

from orchestration.project import DBT_EXECUTABLE, dbt_project, restore_partial_parse

# One configuration for every connection of this process: DuckDB refuses a second connection to
# the same file with a different one (docs/contributing.md).
# (TimeZone cannot be set at connect time, before ICU loads; the loaders set it per session.)
warehouse = DuckDBResource(database=dg.EnvVar("MH_WAREHOUSE"))


class BillingDbtCliResource(DbtCliResource):
    """dagster-dbt's dbt resource, less two start-up costs a close does not need, and with dbt's
    partial parse kept per warehouse (docs/performance.md)."""

    @cached_property
    def _cli_version(self) -> version.Version:
        # dagster-dbt runs `dbt --version` (2.5 s of imports) to tell dbt Core from Fusion; our
        # executable is the dbt-core of this environment, pinned in requirements.lock.
        return version.parse(importlib.metadata.version("dbt-core"))

    def _initialize_dbt_core_adapter(self, args: Sequence[str]):
        # dagster-dbt opens a dbt adapter in this process only to fetch row counts and column
        # metadata on request; model_figures (assets/dbt_models.py) reads them from the warehouse.
        return None

    def cli(self, args: Sequence[str], *, target_path: Path | None = None, context=None, **kwargs):
        target_path = target_path or self._get_unique_target_path(context=context)
        restore_partial_parse(Path(self.project_dir) / target_path)
        return super().cli(args, target_path=target_path, context=context, **kwargs)


dbt = BillingDbtCliResource(project_dir=dbt_project, dbt_executable=DBT_EXECUTABLE)
