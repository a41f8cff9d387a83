"""Resources; configuration only from the MH_* environment (docs/contributing.md, "Python")."""

import importlib.metadata
from collections.abc import Sequence
from functools import cached_property
from pathlib import Path

import dagster as dg
from dagster_dbt import DagsterDbtTranslator, DbtCliResource
from dagster_dbt.asset_utils import (
    extract_runtime_selection_from_args,
    get_updated_cli_invocation_params_for_context,
)
from dagster_dbt.dagster_dbt_translator import validate_opt_translator
from dagster_dbt.dbt_manifest import validate_manifest
from dagster_duckdb import DuckDBResource
from packaging import version

from orchestration.dbt_in_process import in_process_invocation
from orchestration.project import DBT_EXECUTABLE, dbt_project, restore_partial_parse

# One configuration for every connection of this process: DuckDB refuses a second connection to
# the same file with a different one (docs/contributing.md).
# (TimeZone cannot be set at connect time, before ICU loads; the loaders set it per session.)
warehouse = DuckDBResource(database=dg.EnvVar("MH_WAREHOUSE"))


class BillingDbtCliResource(DbtCliResource):
    """dagster-dbt's dbt resource, with dbt run in this process rather than as a subprocess, and
    dbt's partial parse kept per warehouse (docs/performance.md)."""

    @cached_property
    def _cli_version(self) -> version.Version:
        # dagster-dbt runs `dbt --version` (2.5 s of imports) to tell dbt Core from Fusion; our
        # executable is the dbt-core of this environment, pinned in requirements.lock.
        return version.parse(importlib.metadata.version("dbt-core"))

    def cli(
        self,
        args: Sequence[str],
        *,
        raise_on_error: bool = True,
        manifest=None,
        dagster_dbt_translator=None,
        context=None,
        target_path: Path | None = None,
    ):
        """dagster-dbt's `cli`, with dbt run in this process (orchestration/dbt_in_process.py):
        the same selection of the run's assets, the same events, one folder per invocation."""
        translator = validate_opt_translator(dagster_dbt_translator) or DagsterDbtTranslator()
        cleaned_args, selects, excludes = extract_runtime_selection_from_args(args)
        params = get_updated_cli_invocation_params_for_context(
            context=context,
            manifest=validate_manifest(manifest) if manifest else {},
            dagster_dbt_translator=translator,
            runtime_selects=selects,
            runtime_excludes=excludes,
        )
        project_dir = Path(
            params.dbt_project.project_dir if params.dbt_project else self.project_dir
        )
        target_path = target_path or self._get_unique_target_path(context=context)
        if not target_path.is_absolute():
            target_path = project_dir / target_path
        restore_partial_parse(target_path)
        profile = [*(["--profile", self.profile] if self.profile else [])]
        profile += ["--target", self.target] if self.target else []
        # Used only when indirect_selection is set.
        indirect = ["--indirect-selection", params.indirect_selection]
        return in_process_invocation(
            args=[
                *cleaned_args,
                *profile,
                *params.selection_args,
                *(indirect if params.indirect_selection else []),  # type: ignore[list-item]
            ],
            manifest=params.manifest,
            dagster_dbt_translator=params.dagster_dbt_translator,
            project_dir=project_dir,
            profiles_dir=Path(self.profiles_dir or project_dir),
            target_path=target_path,
            raise_on_error=raise_on_error,
            context=context,
            cli_version=self._cli_version,
            dbt_project=params.dbt_project,
        )


# dagster-dbt's field is typed str; its validator turns a DbtProject into the project's path.
dbt = BillingDbtCliResource(project_dir=dbt_project, dbt_executable=DBT_EXECUTABLE)  # type: ignore[arg-type]
