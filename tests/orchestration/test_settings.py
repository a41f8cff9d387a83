"""Settings: resolved by a pure function, applied only by the entry points."""

import json
import os
import subprocess
import sys

from orchestration.settings import REPO_ROOT, resolve_locations


def test_locations_resolve_override_then_environment_then_default() -> None:
    resolved = resolve_locations(
        {"MH_WAREHOUSE": "/data/from_env.duckdb", "MH_LANDING_DIR": "relative/landing"},
        {"MH_WAREHOUSE": "/data/override.duckdb", "MH_OUTPUT_DIR": None},
    )
    assert resolved == {
        "MH_CATALOG_DIR": str(REPO_ROOT / "seeds/catalog"),
        "MH_LANDING_DIR": str(REPO_ROOT / "relative/landing"),
        "MH_WAREHOUSE": "/data/override.duckdb",
        "MH_OUTPUT_DIR": str(REPO_ROOT / "data/output"),
    }


def test_importing_the_code_changes_no_environment_until_an_entry_point_applies_it() -> None:
    script = """
import json, os
before = dict(os.environ)
import orchestration.settings, orchestration.runs, orchestration.project
imported = dict(os.environ)
import orchestration.definitions
applied = dict(os.environ)
result = [imported == before, applied.get("MH_WAREHOUSE"), applied["PATH"] == before["PATH"]]
print(json.dumps(result))
"""
    environ = {name: value for name, value in os.environ.items() if not name.startswith("MH_")}
    environ["PATH"] = "/usr/bin:/bin"  # the venv not activated
    done = subprocess.run(
        [sys.executable, "-c", script],
        cwd=REPO_ROOT,
        env=environ,
        capture_output=True,
        text=True,
        check=True,
    )
    unchanged, warehouse, path_kept = json.loads(done.stdout.splitlines()[-1])
    assert unchanged  # imports alone export nothing and leave PATH alone
    assert warehouse == str(REPO_ROOT / "data/warehouse.duckdb")  # the code location applies it
    assert path_kept
