"""The dbt project, with dbt_project.yml at the repository root (STYLE §1)."""

import os
import subprocess
from pathlib import Path

from dagster_dbt import DbtProject

from orchestration.settings import REPO_ROOT, VENV_BIN

DBT_EXECUTABLE = str(Path(VENV_BIN) / "dbt")

dbt_project = DbtProject(project_dir=REPO_ROOT, profiles_dir=REPO_ROOT, target_path=Path("target"))

_SOURCES = ("dbt_project.yml", "profiles.yml", "dbt_project", "seeds/reference")


def ensure_manifest() -> Path:
    """Run `dbt parse` when target/manifest.json is missing or older than any dbt source file.

    Dagster reads the manifest at import; outside `dagster dev` nobody else prepares it.
    """
    manifest = dbt_project.manifest_path
    newest = max(
        (p.stat().st_mtime for name in _SOURCES for p in _walk(REPO_ROOT / name)), default=0.0
    )
    if not manifest.exists() or manifest.stat().st_mtime < newest:
        env = {**os.environ, "DBT_SEND_ANONYMOUS_USAGE_STATS": "false"}
        subprocess.run([DBT_EXECUTABLE, "parse", "--quiet"], cwd=REPO_ROOT, env=env, check=True)
    return manifest


def _walk(path: Path) -> list[Path]:
    if path.is_file():
        return [path]
    return [p for p in path.rglob("*") if p.is_file()] if path.is_dir() else []
