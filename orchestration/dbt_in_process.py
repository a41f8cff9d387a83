"""dbt in the run's own process: dbt's programmatic API (`dbtRunner`) on a manifest parsed once per
process, in place of dagster-dbt's `dbt` subprocess (docs/performance.md).

A subprocess pays dbt's imports (3 s) and the loading of its partial parse (1.5 s) on every
close, finalization and usage refresh; the command has imported most of dbt already, through
dagster-dbt. Here dbt's events reach a callback instead of a pipe, and are turned into the same
Dagster events (materializations, checks) by dagster-dbt's own code.
"""

import json
import re
import sys
import threading
from collections.abc import Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from dagster_dbt.core.dbt_cli_event import DbtCoreCliEventMessage
from dagster_dbt.core.dbt_cli_invocation import DbtCliInvocation

from orchestration.faults import crash_point
from orchestration.project import project_sources_stamp, warehouse_catalog_name

# Parsed manifests of this process, by project, sources and the warehouse's catalog name: the
# manifest bakes in that name, and nothing else of the profile (manifest_key).
_MANIFESTS: dict[tuple, Any] = {}
_MANIFESTS_LOCK = threading.Lock()
# dbt's own console output is off: its lines reach the command's console through the callback.
QUIET = ["--log-level", "none", "--no-use-colors", "--no-send-anonymous-usage-stats"]


class _Finished:
    """What dagster-dbt's invocation reads of its subprocess, for a dbt that ran in-process."""

    def __init__(self, args: Sequence[str], returncode: int) -> None:
        self.args = list(args)
        self.returncode = returncode
        self.stdout = None

    def wait(self, timeout: float | None = None) -> int:
        return self.returncode


@dataclass
class InProcessDbtInvocation(DbtCliInvocation):
    """A finished in-process dbt command, read as dagster-dbt reads a subprocess's output."""

    raw_events: list[dict[str, Any]] = field(default_factory=list)

    def _stream_stdout(self) -> Iterator[dict[str, Any]]:
        yield from self.raw_events

    def stream_raw_events(self) -> Iterator[DbtCoreCliEventMessage]:
        # The lines were printed while dbt ran (the progress bar moves with them): only the events.
        for raw_event in self.raw_events:
            yield DbtCoreCliEventMessage(raw_event=raw_event, event_history_metadata={})
        self._raise_on_error()


def vars_args(values: Mapping[str, str]) -> list[str]:
    """`--vars` for one dbt command. Vars, not the environment: the command's process keeps its
    environment, and its one parsed manifest serves any values (a subprocess's dbt re-parsed the
    project whenever its vars changed)."""
    return ["--vars", json.dumps(dict(values), sort_keys=True)]


def run_dbt(
    args: Sequence[str], *, project_dir: Path, profiles_dir: Path, target_path: Path
) -> tuple[int, list[dict[str, Any]], list[str]]:
    """Run one dbt command here; return its exit code, its events of level info and above (as
    dbt's JSON log would carry them) and its error messages. Each event's line goes to stdout as
    it happens, where the command's console draws the progress."""
    from dbt.cli.main import dbtRunner
    from dbt_common.events.functions import msg_to_dict

    location = [
        "--project-dir",
        str(project_dir),
        "--profiles-dir",
        str(profiles_dir),
        "--target-path",
        str(target_path),
        "--log-path",
        str(target_path),
    ]
    manifest = _parsed_manifest(project_dir, profiles_dir, target_path, QUIET)
    _forget_compilation(manifest)
    _inject_ctes_without_a_parse()
    events: list[dict[str, Any]] = []
    errors: list[str] = []
    lock = threading.Lock()

    def on_event(message) -> None:
        level = message.info.level
        if level == "debug":
            return
        raw = msg_to_dict(message)
        with lock:  # dbt's threads report concurrently
            events.append(raw)
            if level == "error":
                errors.append(message.info.msg)
            sys.stdout.write(message.info.msg + "\n")
        if message.info.name == "LogModelResult":
            node = raw["data"].get("node_info", {})
            if node.get("node_status") == "success":
                crash_point(f"dbt_built:{node.get('node_name')}")  # crash tests (faults.py)

    command, *rest = args
    result = dbtRunner(manifest=manifest, callbacks=[on_event]).invoke(
        [*QUIET, command, *location, "--no-write-json", *rest]
    )
    # Of dbt's JSON artifacts only run_results.json is written: the manifest is this process's
    # own (above), and writing it out again with the semantic manifest took 1 to 2 s a close.
    write = getattr(result.result, "write", None)
    if write is not None:
        write(str(target_path / "run_results.json"))
    sys.stdout.flush()
    _close_duckdb()
    if result.exception is not None and not errors:
        errors.append(f"{type(result.exception).__name__}: {result.exception}")
    return (0 if result.success else 1), events, errors


def _close_duckdb() -> None:
    """Close the database dbt-duckdb keeps open for the life of its process (a subprocess closed it
    on exit): the run reads the warehouse next, with its own connection settings."""
    try:
        from dbt.adapters.duckdb.connections import DuckDBConnectionManager
    except ImportError:  # another adapter
        return
    with DuckDBConnectionManager._LOCK:
        environment, DuckDBConnectionManager._ENV = DuckDBConnectionManager._ENV, None
    if environment is not None:
        environment.close()


def _forget_compilation(manifest: Any) -> None:
    """Have dbt compile the ephemeral models again, and inject them again, for this command.

    dbt records a compilation on the manifest's nodes and skips what it finds done: an ephemeral
    model compiled once keeps its SQL, and a model whose ephemeral models' CTEs were injected once
    is not injected again (`extra_ctes_injected`, dbt/compilation.py). A subprocess started from a
    fresh manifest; here one manifest serves every command of the process, so the second close
    would run int_invoice_lines_drafted without its CTEs (or with the first close's window).
    """
    for node in manifest.nodes.values():
        if getattr(node, "extra_ctes_injected", False):
            node.extra_ctes_injected = False
            node.extra_ctes = []
            node._pre_injected_sql = None
            if node.config.materialized == "ephemeral":
                node.compiled = False


# What may come before a model's first keyword: whitespace and SQL comments.
_LEADING_COMMENTS = re.compile(r"(?:\s+|--[^\n]*(?:\n|$)|/\*.*?\*/)*", re.DOTALL)
_WITH = re.compile(r"with\b", re.IGNORECASE)
_RECURSIVE = re.compile(r"\s*recursive\b", re.IGNORECASE)
_WHITESPACE = re.compile(r"\s*")


def inject_ctes(sql: str, ctes: Sequence[Any], parse_and_inject: Any) -> str:
    """dbt's injection of ephemeral models' CTEs into a model's SQL, without sqlparse where the
    answer is plain: a single statement whose first word, after comments, is `with` (not
    `with recursive`) gets the CTEs spliced in after it and its whitespace, where dbt's token
    walk puts them. Anything else goes to dbt's own `parse_and_inject`.

    dbt tokenizes the model's whole query with sqlparse to find that `with`: 1.5 to 4 s of every
    close for int_invoice_lines_drafted alone, whose kinds of line are ephemeral models
    (docs/performance.md). tests/orchestration/test_dbt_in_process.py checks that the two agree
    on every injection the project makes.
    """
    if ctes and ";" not in sql:
        keyword = _WITH.match(sql, _skip(_LEADING_COMMENTS, sql, 0))
        if keyword and not _RECURSIVE.match(sql, keyword.end()):
            # dbt inserts before the token after `with`, past its whitespace.
            at = _skip(_WHITESPACE, sql, keyword.end())
            joined = ", ".join(cte.sql for cte in ctes)
            return f"{sql[:at]}{joined}, {sql[at:]}"
    return parse_and_inject(sql, ctes)


def _skip(pattern: re.Pattern[str], sql: str, position: int) -> int:
    """Where `sql` goes on after what `pattern` matches at `position` (it may match nothing)."""
    match = pattern.match(sql, position)
    return match.end() if match else position


def _inject_ctes_without_a_parse() -> None:
    """Have dbt's compiler use `inject_ctes` (once per process)."""
    import dbt.compilation

    original = dbt.compilation.inject_ctes_into_sql
    if hasattr(original, "dbt_s_own"):
        return

    def injected(sql: str, ctes: Sequence[Any]) -> str:
        return inject_ctes(sql, ctes, original)

    injected.dbt_s_own = original  # type: ignore[attr-defined]
    dbt.compilation.inject_ctes_into_sql = injected


def _parsed_manifest(project_dir: Path, profiles_dir: Path, target_path: Path, quiet: list[str]):
    """The project's manifest for the current warehouse's name, parsed on first use in this process
    (from the warehouse's partial parse, which the caller restored into `target_path`)."""
    key = manifest_key(project_dir)
    with _MANIFESTS_LOCK:
        if key not in _MANIFESTS:
            _MANIFESTS.clear()  # one warehouse name at a time, as a rule: keep memory flat
            # Not written out as manifest.json: dagster-dbt reads the project's (ensure_manifest).
            _MANIFESTS[key] = _parse(
                project_dir, profiles_dir, target_path, quiet, write_json=False
            )
        return _MANIFESTS[key]


def parse_project(project_dir: Path, target_path: Path) -> None:
    """`dbt parse` into `target_path`, kept for this process's next dbt command."""
    with _MANIFESTS_LOCK:
        manifest = _parse(project_dir, project_dir, target_path, QUIET)
        _MANIFESTS.clear()
        _MANIFESTS[manifest_key(project_dir)] = manifest


def manifest_key(project_dir: Path) -> tuple[str, float, str]:
    """What a parsed manifest depends on: the project's files and the warehouse's catalog name.

    dbt-duckdb names the catalog after the warehouse file (`warehouse` for any
    `.../warehouse.duckdb`), and the models' relations carry that name; the project reads nothing
    else of the profile (no `target.path`, no env_var in the models). So this process's manifest
    serves every warehouse of the same name (a full parse is ~10 s).
    """
    return (str(project_dir), project_sources_stamp(), warehouse_catalog_name())


def _profile_check_without_the_path() -> None:
    """Leave the warehouse's path out of the profile hash dbt's partial parse checks (once per
    process).

    dbt re-parses the whole project when any value of the profile's connection changed since the
    partial parse was written, the path included; a parse takes nothing from the path but the
    catalog name, which dbt-duckdb derives from it and which stays in the hash (`database`). With
    the path left out, a warehouse's first parse starts from the partial parse of the last
    warehouse of the same name (project.py keeps them by that name).
    """
    import pprint

    from dbt.artifacts.resources import FileHash
    from dbt.parser.manifest import ManifestLoader

    original = ManifestLoader.build_manifest_state_check
    if hasattr(original, "dbt_s_own"):
        return

    def state_check(self):
        check = original(self)
        # dbt's own hash (dbt/parser/manifest.py), over the same sorted (key, value) pairs.
        connection = sorted(
            item for item in self.root_project.credentials.connection_info() if item[0] != "path"
        )
        check.profile_hash = FileHash.from_contents(pprint.pformat(connection))
        return check

    state_check.dbt_s_own = original  # type: ignore[attr-defined]
    ManifestLoader.build_manifest_state_check = state_check  # type: ignore[method-assign]


def _parse(
    project_dir: Path,
    profiles_dir: Path,
    target_path: Path,
    quiet: list[str],
    *,
    write_json: bool = True,
):
    from dbt.cli.main import dbtRunner

    _profile_check_without_the_path()
    result = dbtRunner().invoke(
        [
            *quiet,
            "parse",
            "--project-dir",
            str(project_dir),
            "--profiles-dir",
            str(profiles_dir),
            "--target-path",
            str(target_path),
            "--log-path",
            str(target_path),
            "--log-level-file",
            "none",
            "--write-json" if write_json else "--no-write-json",
        ]
    )
    if not result.success:
        raise RuntimeError(f"dbt could not parse the project: {result.exception}")
    return result.result


def in_process_invocation(
    *,
    args: Sequence[str],
    manifest: Any,
    dagster_dbt_translator: Any,
    project_dir: Path,
    profiles_dir: Path,
    target_path: Path,
    raise_on_error: bool,
    context: Any,
    cli_version: Any,
    dbt_project: Any,
) -> InProcessDbtInvocation:
    """Run dbt here and wrap its outcome as dagster-dbt's invocation object."""
    returncode, events, errors = run_dbt(
        args, project_dir=project_dir, profiles_dir=profiles_dir, target_path=target_path
    )
    invocation = InProcessDbtInvocation(
        process=_Finished(["dbt", *args], returncode),  # type: ignore[arg-type]
        manifest=manifest,
        dagster_dbt_translator=dagster_dbt_translator,
        project_dir=project_dir,
        target_path=target_path,
        raise_on_error=raise_on_error,
        cli_version=cli_version,
        project=dbt_project,
        context=context,
        adapter=None,
        raw_events=events,
    )
    invocation._error_messages = errors
    return invocation
