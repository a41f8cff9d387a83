"""Resources; configuration only from the MH_* environment (STYLE §8)."""

import dagster as dg
from dagster_dbt import DbtCliResource
from dagster_duckdb import DuckDBResource

from orchestration.project import DBT_EXECUTABLE, dbt_project

# One configuration for every connection of this process: DuckDB refuses a second connection to
# the same file with a different one (docs/contributing.md).
# (TimeZone cannot be set at connect time, before ICU loads; the loaders set it per session.)
warehouse = DuckDBResource(database=dg.EnvVar("MH_WAREHOUSE"))
dbt = DbtCliResource(project_dir=dbt_project, dbt_executable=DBT_EXECUTABLE)
