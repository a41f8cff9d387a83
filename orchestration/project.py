"""The dbt project, with dbt_project.yml at the repository root."""

import hashlib
import os
import shutil
from pathlib import Path

from dagster_dbt import DbtProject

from orchestration.files import replaced_atomically
from orchestration.settings import DEFAULTS, REPO_ROOT, VENV_BIN

DBT_EXECUTABLE = str(Path(VENV_BIN) / "dbt")

dbt_project = DbtProject(project_dir=REPO_ROOT, profiles_dir=REPO_ROOT, target_path=Path("target"))

_SOURCES = ("dbt_project.yml", "profiles.yml", "dbt_project", "seeds/reference")


def ensure_manifest() -> Path:
    """Run `dbt parse` when target/manifest.json is missing or older than any dbt source file.

    Dagster reads the manifest at import; outside `dagster dev` nobody else prepares it.
    """
    manifest = dbt_project.manifest_path
    if not manifest.exists() or manifest.stat().st_mtime < project_sources_stamp():
        from orchestration.dbt_in_process import parse_project

        # In this process: the command's first dbt run starts from this manifest (no re-parse).
        parse_project(REPO_ROOT, manifest.parent)
        # The command's locations are exported already: the first dbt run on this warehouse can
        # start from this parse instead of parsing the project again (a fresh clone's first close).
        save_partial_parse(manifest.parent)
    return manifest


def project_sources_stamp() -> float:
    """When a dbt source file of the project last changed (a parse older than this is stale)."""
    return max(
        (p.stat().st_mtime for name in _SOURCES for p in _walk(REPO_ROOT / name)), default=0.0
    )


def _walk(path: Path) -> list[Path]:
    if path.is_file():
        return [path]
    return [p for p in path.rglob("*") if p.is_file()] if path.is_dir() else []


# dbt re-parses the whole project (10 s) when its profile changes. The warehouse's path is part of
# the profile, but all a parse takes from it is the catalog name (dbt_in_process.py keeps the path
# out of dbt's profile check): the partial parses are kept by catalog name and memory limit, so that
# every `warehouse.duckdb` starts from the last one's. dbt still checks every file and setting and
# re-parses what changed, so a stale or missing entry costs time, never correctness.
PARTIAL_PARSE_CACHE = "partial_parse"
PARTIAL_PARSE_FILE = "partial_parse.msgpack"
KEPT_PARTIAL_PARSES = 20


def warehouse_catalog_name() -> str:
    """The catalog name dbt-duckdb gives the warehouse of MH_WAREHOUSE (its file name without the
    extension): the one thing of the warehouse's location a parsed manifest depends on."""
    from dbt.adapters.duckdb.credentials import DuckDBCredentials

    path = os.environ.get("MH_WAREHOUSE", DEFAULTS["MH_WAREHOUSE"])  # as profiles.yml reads it
    return DuckDBCredentials.path_derived_database_name(path)


def partial_parse_key() -> str:
    """What dbt's partial parse depends on in the profile as the environment renders it
    (profiles.yml reads MH_WAREHOUSE and MH_DUCKDB_MEMORY_LIMIT), as a short key."""
    profile = f"{warehouse_catalog_name()}|{os.environ.get('MH_DUCKDB_MEMORY_LIMIT', '')}"
    return hashlib.sha256(profile.encode()).hexdigest()[:16]


def _partial_parse_entry() -> Path:
    """The cache entry of the profile as the environment renders it."""
    return (
        dbt_project.project_dir / "target" / PARTIAL_PARSE_CACHE / f"{partial_parse_key()}.msgpack"
    )


def restore_partial_parse(invocation_target: Path) -> None:
    """Give a new dbt invocation folder the partial parse of the current warehouse, if any."""
    entry = _partial_parse_entry()
    if entry.exists():
        invocation_target.mkdir(parents=True, exist_ok=True)
        shutil.copyfile(entry, invocation_target / PARTIAL_PARSE_FILE)


def save_partial_parse(invocation_target: Path) -> None:
    """Keep the partial parse a finished dbt invocation wrote, for the next on its warehouse."""
    written = invocation_target / PARTIAL_PARSE_FILE
    if not written.exists():
        return
    entry = _partial_parse_entry()
    with replaced_atomically(entry) as temporary:  # a reader sees the old file or the new one
        shutil.copyfile(written, temporary)
    entries = sorted(entry.parent.glob("*.msgpack"), key=_modified, reverse=True)
    for old in entries[KEPT_PARTIAL_PARSES:]:
        old.unlink(missing_ok=True)


def _modified(path: Path) -> float:
    """A file's modification time; 0 when another process removed it meanwhile."""
    try:
        return path.stat().st_mtime
    except FileNotFoundError:
        return 0.0
