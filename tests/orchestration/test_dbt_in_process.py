"""dbt in the command's process (orchestration/dbt_in_process.py): one parse per process and
warehouse name, the warehouse released when dbt is done, dbt's failures reported."""

import shutil
import subprocess
import sys
from pathlib import Path

import duckdb
import pytest

from orchestration import dbt_in_process
from orchestration.partitions import close_window_vars
from orchestration.settings import REPO_ROOT


@pytest.fixture
def warehouse(tmp_path, monkeypatch):
    path = tmp_path / "in_process.duckdb"
    monkeypatch.setenv("MH_WAREHOUSE", str(path))
    # Each test starts without the manifests parsed by the tests before it in this process.
    monkeypatch.setattr(dbt_in_process, "_MANIFESTS", {})
    return path


def _build(tmp_path, name: str, *selection: str):
    return dbt_in_process.run_dbt(
        ["build", "--select", *selection],
        project_dir=REPO_ROOT,
        profiles_dir=REPO_ROOT,
        target_path=tmp_path / name,
    )


def _count_parses(monkeypatch) -> list:
    parses: list = []
    parse = dbt_in_process._parse
    monkeypatch.setattr(
        dbt_in_process,
        "_parse",
        lambda *args, **kwargs: parses.append(args) or parse(*args, **kwargs),
    )
    return parses


def test_one_parse_per_process_and_the_warehouse_released(tmp_path, warehouse, monkeypatch):
    parses = _count_parses(monkeypatch)

    returncode, events, errors = _build(tmp_path, "first", "int_calendar_months")
    assert (returncode, errors) == (0, [])
    results = [e for e in events if e["info"]["name"] == "LogModelResult"]
    assert [e["data"]["node_info"]["node_name"] for e in results] == ["int_calendar_months"]

    # dbt-duckdb closed its database: this process opens it with other settings, and so does
    # another process (a subprocess of dbt used to release it by exiting).
    with duckdb.connect(str(warehouse), config={"threads": 1}) as conn:
        assert conn.execute("select count(*) from intermediate.int_calendar_months").fetchone() == (
            2760,
        )
    other = subprocess.run(
        [sys.executable, "-c", f"import duckdb; duckdb.connect({str(warehouse)!r}).close()"],
        capture_output=True,
        text=True,
    )
    assert other.returncode == 0, other.stderr

    assert _build(tmp_path, "second", "int_calendar_months")[0] == 0
    assert len(parses) == 1  # the second command reused the first one's manifest


def _compiled_for_window(tmp_path, model: str, start: str) -> str:
    """`dbt compile` of one model for the close window [start, 2026-11-01), in this process."""
    returncode, _, errors = dbt_in_process.run_dbt(
        [
            "compile",
            "--select",
            model,
            *dbt_in_process.vars_args(close_window_vars(start, "2026-11-01")),
        ],
        project_dir=REPO_ROOT,
        profiles_dir=REPO_ROOT,
        target_path=tmp_path / start,
    )
    assert (returncode, errors) == (0, [])
    return next((tmp_path / start).rglob(f"compiled/**/{model}.sql")).read_text()


def test_each_command_gets_its_close_window_without_a_new_parse(tmp_path, warehouse, monkeypatch):
    parses = _count_parses(monkeypatch)
    for start in ("2026-09-01", "2026-10-01"):
        sql = _compiled_for_window(tmp_path, "int_charge_events_bucketed", start)
        assert f"cast('{start}' as date)" in sql
    assert len(parses) == 1


def test_a_failing_model_fails_the_command_with_dbt_s_message(tmp_path, warehouse):
    # A model reading an input that does not exist in this empty warehouse.
    returncode, _, errors = _build(tmp_path, "failing", "stg_landing__events")
    assert returncode == 1
    assert any("events" in error for error in errors), errors


def test_the_manifest_follows_the_warehouse_s_name(tmp_path, warehouse, monkeypatch):
    """The manifest names the warehouse's catalog, which dbt-duckdb takes from the file's name: a
    warehouse of the same name in another folder shares the parse, another name gets its own."""
    parses = _count_parses(monkeypatch)
    assert _build(tmp_path, "one", "int_calendar_months")[0] == 0
    same_name = tmp_path / "elsewhere" / warehouse.name
    same_name.parent.mkdir()
    monkeypatch.setenv("MH_WAREHOUSE", str(same_name))
    assert _build(tmp_path, "two", "int_calendar_months")[0] == 0
    assert len(parses) == 1
    other = tmp_path / "other_warehouse.duckdb"
    monkeypatch.setenv("MH_WAREHOUSE", str(other))
    assert _build(tmp_path, "three", "int_calendar_months")[0] == 0
    assert len(parses) == 2
    for path in (same_name, other):
        with duckdb.connect(str(path)) as conn:
            count = conn.execute("select count(*) from intermediate.int_calendar_months")
            assert count.fetchone() == (2760,)


def test_a_warehouse_s_first_parse_starts_from_one_of_the_same_name(tmp_path, monkeypatch):
    """dbt parses the whole project again when its profile changed. The warehouse's path is left
    out of that check, not the catalog name dbt-duckdb derives from it: another folder's
    `warehouse.duckdb` starts from the partial parse, a warehouse of another name does not."""
    from dbt.cli.main import dbtRunner

    dbt_in_process._profile_check_without_the_path()

    def parse(warehouse: Path, target: Path, partial_parse: Path | None = None) -> list[str]:
        monkeypatch.setenv("MH_WAREHOUSE", str(warehouse))
        if partial_parse is not None:
            target.mkdir()
            shutil.copyfile(partial_parse, target / "partial_parse.msgpack")
        reasons: list[str] = []

        def on_event(message) -> None:
            if message.info.name == "UnableToPartialParse":
                reasons.append(message.data.reason)

        location = ["--project-dir", str(REPO_ROOT), "--profiles-dir", str(REPO_ROOT)]
        result = dbtRunner(callbacks=[on_event]).invoke(
            [*dbt_in_process.QUIET, "parse", *location, "--target-path", str(target)]
        )
        assert result.success, result.exception
        return reasons

    first = tmp_path / "first" / "warehouse.duckdb"
    parse(first, tmp_path / "t1")
    written = tmp_path / "t1" / "partial_parse.msgpack"
    elsewhere = tmp_path / "elsewhere" / "warehouse.duckdb"
    assert parse(elsewhere, tmp_path / "t2", written) == []
    other = tmp_path / "first" / "other.duckdb"
    assert parse(other, tmp_path / "t3", written) == ["profile has changed"]


def test_each_command_compiles_the_ephemeral_models_again(tmp_path, warehouse):
    """dbt keeps a compilation on the manifest's nodes; the manifest serves every command of the
    process, so each must inject the ephemeral models again, with its own close window."""
    for start in ("2026-09-01", "2026-10-01"):
        sql = _compiled_for_window(tmp_path, "int_invoice_lines_drafted", start)
        for kind in ("subscription_fees", "charge_fees", "progressive_billing"):
            assert f"__dbt__cte__int_invoice_lines__{kind} as (" in sql
        # The ephemeral billings model reads the window of this command, not the first one's.
        billings = sql.split("__dbt__cte__int_invoice_lines__billings as (")[1].split("\n)")[0]
        assert f"billing_month >= cast('{start}' as date)" in billings


def _dbt_s_own_injection():
    import dbt.compilation

    injection = dbt.compilation.inject_ctes_into_sql
    return getattr(injection, "dbt_s_own", injection)


def _one_cte() -> list:
    from dbt.contracts.graph.nodes import InjectedCTE

    return [InjectedCTE(id="x", sql=" __dbt__cte__x as (\nselect 2\n)")]


def _refuse(sql, ctes):
    raise AssertionError("dbt's sqlparse injection was used")


@pytest.mark.parametrize(
    "sql",
    [
        "with a as (select 1) select * from a",
        "\n  -- a comment\n/* and\n another */ WITH a as (select 1) select * from a",
        "With\na as (select 1)\nselect * from a",
    ],
)
def test_ctes_go_right_after_the_first_with_without_sqlparse(sql):
    ctes = _one_cte()
    assert dbt_in_process.inject_ctes(sql, ctes, _refuse) == _dbt_s_own_injection()(sql, ctes)


@pytest.mark.parametrize(
    "sql",
    [
        "select 1",  # no with: dbt adds one
        "with recursive a as (select 1) select * from a",
        "with a as (select 1) select * from a; select 2",
        "with_x as (select 1)",
    ],
)
def test_anything_else_is_left_to_dbt(sql):
    ctes = _one_cte()
    with pytest.raises(AssertionError, match="sqlparse"):
        dbt_in_process.inject_ctes(sql, ctes, _refuse)


def test_every_injection_of_the_project_equals_dbt_s_own(tmp_path, warehouse, monkeypatch):
    """The ephemeral kinds of invoice line, compiled into int_invoice_lines_drafted and into one
    another: each injection equals what dbt's sqlparse walk gives (run inside dbt's command, with
    its sqlparse settings), and none needed that walk."""
    pairs: list = []
    inject = dbt_in_process.inject_ctes

    def both(sql, ctes, parse):
        pairs.append((inject(sql, ctes, _refuse), parse(sql, ctes)))
        return pairs[-1][1]

    monkeypatch.setattr(dbt_in_process, "inject_ctes", both)
    _compiled_for_window(tmp_path, "int_invoice_lines_drafted", "2026-10-01")
    assert len(pairs) >= 3  # the model, and the kinds that read other kinds
    for ours, dbt_s in pairs:
        assert ours == dbt_s


def _view(warehouse, name: str) -> tuple:
    """(rows, comment) of a staging view."""
    with duckdb.connect(str(warehouse)) as conn:
        (comment,) = conn.execute(
            "select comment from duckdb_views() where schema_name = 'staging' and view_name = ?",
            [name],
        ).fetchone()
        return conn.execute(f"select count(*) from staging.{name}").fetchone()[0], comment


def test_a_view_is_built_again_only_when_its_sql_changes(tmp_path, warehouse):
    """dbt_project/macros/materializations/view.sql: a close leaves alone a view built from the
    same SQL, and builds one whose fingerprint differs or that is not a view."""
    view = "stg_reference__currencies"

    def build(name: str) -> tuple:
        selection = ("currencies", view, "--indirect-selection=empty")
        returncode, _, errors = _build(tmp_path, name, *selection)
        assert (returncode, errors) == (0, [])
        return _view(warehouse, view)

    def replace(sql: str, comment: str) -> None:
        with duckdb.connect(str(warehouse)) as conn:
            conn.execute(f"drop view if exists staging.{view}")
            conn.execute(f"drop table if exists staging.{view}")
            conn.execute(f"create view staging.{view} as {sql}")
            conn.execute(f"comment on view staging.{view} is '{comment}'")

    rows, fingerprint = build("first")
    assert rows > 1 and fingerprint.startswith("meterhouse view ")

    # A view that carries this SQL's fingerprint is not built again (its marker row stays) ...
    replace("select 'marker' as currency", fingerprint)
    assert build("unchanged") == (1, fingerprint)
    # ... one built from other SQL is.
    replace("select 'marker' as currency", "meterhouse view of an older model")
    assert build("changed") == (rows, fingerprint)

    with duckdb.connect(str(warehouse)) as conn:  # a table where the view should be
        conn.execute(f"drop view staging.{view}")
        conn.execute(f"create table staging.{view} as select 'marker' as currency")
    assert build("was_a_table") == (rows, fingerprint)
