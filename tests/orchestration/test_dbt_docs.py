"""The dbt docs: every model, public column and data test is described, and `meterhouse docs`
builds a site whose catalog holds the billing tables and serves it on localhost. The dbt graph:
macros read no relation of their own (a model's inputs are the ref()s and source()s in it), the
frozen ledger is read through a declared source, and the daily events feed has a freshness check.

The manifest checks read target/manifest.json, which tests/conftest.py prepares (`dbt parse`)
before collection. docs/tables.md is checked against the same manifest, so the page a BI user
reads lists every column of every public table.
"""

import json
import os
import re
import shutil
import socket
import subprocess
import threading
import urllib.request
from pathlib import Path

import duckdb
import pytest

from orchestration import dbt_docs
from orchestration.settings import REPO_ROOT, Locations

MANIFEST = REPO_ROOT / "target" / "manifest.json"
PUBLIC_SCHEMA = "billing"


@pytest.fixture(scope="module")
def manifest() -> dict:
    return json.loads(MANIFEST.read_text())


def _nodes(manifest: dict, resource_type: str) -> list[dict]:
    return [
        node
        for node in manifest["nodes"].values()
        if node["resource_type"] == resource_type and node["package_name"] == "meterhouse"
    ]


def _public_models(manifest: dict) -> list[dict]:
    return [m for m in _nodes(manifest, "model") if m["schema"] == PUBLIC_SCHEMA]


def test_every_model_has_a_description(manifest: dict) -> None:
    models = _nodes(manifest, "model")
    assert len(models) > 40
    undescribed = sorted(m["original_file_path"] for m in models if not m["description"].strip())
    assert undescribed == [], "models without a description (add one to the YAML beside the SQL)"


def test_every_model_is_described_in_the_yaml_beside_it(manifest: dict) -> None:
    """docs/contributing.md, "YAML": one layout, `<model>.yml` beside `<model>.sql`, holding that
    model and its unit tests, so a reader finds a model's description, tests and rule-book cases
    where the SQL is."""
    misplaced = sorted(
        f"{m['original_file_path']} is described in {m['patch_path']}"
        for m in _nodes(manifest, "model")
        if (m["patch_path"] or "").split("://")[-1] != m["original_file_path"][:-4] + ".yml"
    )
    assert misplaced == []
    models = {m["name"]: m["original_file_path"] for m in _nodes(manifest, "model")}
    unit_tests = [u for u in manifest["unit_tests"].values() if u["package_name"] == "meterhouse"]
    assert len(unit_tests) > 20
    astray = sorted(
        f"{u['name']} ({u['original_file_path']}) tests {u['model']}"
        for u in unit_tests
        if u["original_file_path"] != models[u["model"]][:-4] + ".yml"
    )
    assert astray == []


# The generic tests that state a model's grain (dbt_project/tests/generic/ has the second).
KEY_TESTS = {"primary_key", "unique", "unique_combination_of_columns"}
# Models without a primary-key test, each with the reason. Keep it rare: a log has a key too (the
# columns that identify one of its rows), so only a model whose rows cannot be told apart belongs.
KEYLESS_MODELS: dict[str, str] = {}
# dbt tag of the data tests that run in `make test` only, never in a close or a refresh
# (docs/performance.md, "What runs where"); orchestration/assets/dbt_models.py excludes it.
SUITE_ONLY_TAG = "suite_only"


def _key_tests(manifest: dict) -> dict[str, list[dict]]:
    """The primary-key tests of each model, by the model's unique_id."""
    tests: dict[str, list[dict]] = {}
    for test in _nodes(manifest, "test"):
        if (test.get("test_metadata") or {}).get("name") in KEY_TESTS and test["attached_node"]:
            tests.setdefault(test["attached_node"], []).append(test)
    return tests


def test_every_model_has_a_primary_key_test(manifest: dict) -> None:
    """docs/contributing.md, "Tests": a `primary_key`, `unique` or `unique_combination_of_columns`
    test per model. An ephemeral model is exempt: it is no relation, so no query can test it."""
    models = _nodes(manifest, "model")
    keyed = _key_tests(manifest)
    assert len(keyed) > 90
    unkeyed = sorted(
        model["original_file_path"]
        for model in models
        if model["unique_id"] not in keyed
        and model["config"]["materialized"] != "ephemeral"
        and model["name"] not in KEYLESS_MODELS
    )
    assert unkeyed == [], (
        "models without a primary-key test (add `primary_key` or `unique_combination_of_columns` "
        "to the YAML beside the SQL, with a description of what a duplicate means): "
        + ", ".join(unkeyed)
    )
    names = {model["name"] for model in models}
    assert set(KEYLESS_MODELS) <= names, "KEYLESS_MODELS names a model that no longer exists"
    keyed_anyway = sorted(name for name in KEYLESS_MODELS if f"model.meterhouse.{name}" in keyed)
    assert keyed_anyway == [], "a model of KEYLESS_MODELS has a key test: take it off the list"


def test_the_public_tables_keys_run_in_every_close(manifest: dict) -> None:
    """The key tests of the public tables guard what users read and are billed on: none of them
    may be moved out of the close with the suite-only tag (docs/performance.md). A view is not
    a table: testing it computes it whole (invoice_line_events reads every event)."""
    tables = {
        model["unique_id"]
        for model in _public_models(manifest)
        if model["config"]["materialized"] != "view"
    }
    assert {"model.meterhouse.fct_invoices", "model.meterhouse.rejected_inputs"} <= tables
    keyed = _key_tests(manifest)
    assert sorted(tables - set(keyed)) == []
    moved = sorted(
        test["name"] for model in tables for test in keyed[model] if SUITE_ONLY_TAG in test["tags"]
    )
    assert moved == [], "key tests of public tables tagged suite_only"


def test_every_column_of_the_public_tables_has_a_description(manifest: dict) -> None:
    public = _public_models(manifest)
    assert {m["name"] for m in public} >= {"fct_invoices", "fct_invoice_lines", "dim_customers"}
    undescribed = sorted(
        f"{model['name']}.{column['name']}"
        for model in public
        for column in model["columns"].values()
        if not (column.get("description") or "").strip()
    )
    assert undescribed == []


def test_every_public_column_is_declared(manifest: dict) -> None:
    """A contract lists every column, so the docs cannot miss one the table has."""
    for model in _public_models(manifest):
        assert model["contract"]["enforced"], model["name"]
        assert model["columns"], model["name"]


def test_every_data_test_says_what_a_failure_means(manifest: dict) -> None:
    tests = _nodes(manifest, "test")
    assert len(tests) > 50
    singular = [t for t in tests if not t.get("test_metadata")]
    assert len(singular) >= 4  # dbt_project/tests/singular/, described in _singular__tests.yml
    undescribed = sorted(t["name"] for t in tests if len(t["description"].strip()) < 20)
    assert undescribed == [], "data tests without a description of what a failure means"


# A macro's signature in its macro_sql: `{% macro name(first, second=default) %}`.
MACRO_SIGNATURE = re.compile(r"\{%-?\s*macro\s+(\w+)\s*\((.*?)\)\s*-?%\}", re.S)


def _signature_arguments(macro: dict) -> list[str]:
    if macro["name"].startswith("materialization_"):  # `{% materialization name, adapter %}`
        return []
    match = MACRO_SIGNATURE.search(macro["macro_sql"])
    assert match and match.group(1) == macro["name"], macro["original_file_path"]
    arguments = [argument.strip() for argument in match.group(2).split(",")]
    return [argument.split("=")[0].strip() for argument in arguments if argument]


def test_every_macro_is_described_with_its_arguments(manifest: dict) -> None:
    """docs/contributing.md, "Macros": dbt_project/macros/_macros.yml describes every macro of
    dbt_project/macros/ and each of its arguments, in the signature's order. (The generic tests
    of dbt_project/tests/generic/ are macros too; their tests are described by
    test_every_data_test_says_what_a_failure_means.)"""
    macros = [
        m
        for m in manifest["macros"].values()
        if m["package_name"] == "meterhouse"
        and m["original_file_path"].startswith("dbt_project/macros/")
    ]
    assert len(macros) > 100
    undescribed = sorted(m["name"] for m in macros if not m["description"].strip())
    assert undescribed == [], "macros missing from _macros.yml: " + ", ".join(undescribed)
    documented = {m["name"]: [argument["name"] for argument in m["arguments"]] for m in macros}
    mismatched = sorted(
        f"{m['name']}({', '.join(_signature_arguments(m))}) documented as "
        f"({', '.join(documented[m['name']])})"
        for m in macros
        if documented[m["name"]] != _signature_arguments(m)
    )
    assert mismatched == [], "macros whose documented arguments differ: " + "; ".join(mismatched)
    untyped = sorted(
        f"{m['name']}.{a['name']}"
        for m in macros
        for a in m["arguments"]
        if not (a.get("type") or "").strip() or not (a.get("description") or "").strip()
    )
    assert untyped == [], "macro arguments without a type or a description: " + ", ".join(untyped)


MACROS_DIR = REPO_ROOT / "dbt_project" / "macros"
JINJA_COMMENT = re.compile(r"\{#.*?#\}", re.S)
RELATION_CALL = re.compile(r"\b(ref|source)\s*\(")


def relation_calls(macro_sql: str) -> list[str]:
    """The ref( and source( calls of macro code, outside its Jinja comments."""
    code = JINJA_COMMENT.sub("", macro_sql)
    return [
        f"line {code[: match.start()].count(chr(10)) + 1}: {match.group(0)}"
        for match in RELATION_CALL.finditer(code)
    ]


def test_relation_calls_are_found_outside_comments() -> None:
    assert relation_calls("{#- reads ref('x') -#}\nselect 1") == []
    assert relation_calls("{#- doc -#}\nselect * from {{ ref('x') }}") == ["line 2: ref("]
    assert relation_calls("{{ source ('ledger', 'x') }}") == ["line 1: source ("]
    assert relation_calls("{{ source }}.charge_code, json(source ~ '.p')") == []


def test_no_macro_reads_a_relation() -> None:
    """docs/contributing.md, "dbt": macros compute values or emit dialect; the relations a model
    reads are the ref()s and source()s written in the model, passed to the macros it calls."""
    files = sorted(MACROS_DIR.rglob("*.sql"))
    assert len(files) > 10
    calls = {
        str(path.relative_to(REPO_ROOT)): found
        for path in files
        if (found := relation_calls(path.read_text()))
    }
    assert calls == {}, "macros that call ref() or source(): " + json.dumps(calls)


def _frozen_models(manifest: dict) -> dict[str, dict]:
    return {m["name"]: m for m in _nodes(manifest, "model") if "finalization" in m["tags"]}


def test_the_ledger_source_is_the_tables_of_the_finalized_models(manifest: dict) -> None:
    """The `ledger` source names the finalized models' own tables (same database, schema and
    name), so a profile or schema change moves both together."""
    ledger = [s for s in manifest["sources"].values() if s["source_name"] == "ledger"]
    assert len(ledger) >= 3
    frozen = _frozen_models(manifest)
    for table in ledger:
        assert table["name"] in frozen, table["name"]
        assert table["relation_name"] == frozen[table["name"]]["relation_name"]
        assert table["description"].strip()


def test_frozen_reads_are_edges_of_the_graph(manifest: dict) -> None:
    """A model that reads the frozen ledger (frozen_relation) depends on the `ledger` source in
    the manifest, so lineage and `dbt ls --select +<model>` show it; it never refs a finalized
    model (that would be a cycle)."""
    readers = [m for m in _nodes(manifest, "model") if "frozen_relation(" in m["raw_code"]]
    assert {m["name"] for m in readers} >= {
        "int_manual_credit_notes_validated",
        "int_invoice_restatements",
        "int_credit_note_items_drafted",
    }
    frozen_ids = {m["unique_id"] for m in _frozen_models(manifest).values()}
    for model in readers:
        parents = set(model["depends_on"]["nodes"])
        read = set(re.findall(r"frozen_relation\(source\('ledger', '(\w+)'\)\)", model["raw_code"]))
        assert read and read == {
            p.split(".")[-1] for p in parents if p.startswith("source.meterhouse.ledger.")
        }, model["name"]
        assert not parents & frozen_ids, model["name"]


def test_the_events_feed_declares_its_freshness(manifest: dict) -> None:
    """docs/operations.md, "Is the data fresh?": the events source is checked against the column
    in which the loader records each row's load time."""
    from orchestration.landing.loader import LINEAGE_COLUMNS

    events = manifest["sources"]["source.meterhouse.landing.events"]
    assert events["loaded_at_field"] in {name for name, _ in LINEAGE_COLUMNS}
    freshness = events["freshness"]
    warn, error = freshness["warn_after"], freshness["error_after"]
    assert warn["count"] and error["count"]
    days = {"hour": 1 / 24, "day": 1}
    assert warn["count"] * days[warn["period"]] < error["count"] * days[error["period"]]


@pytest.mark.integration
def test_source_freshness_runs_on_a_built_warehouse(scenario: dict, tmp_path: Path) -> None:
    """`dbt source freshness` against a copy of the scenario's warehouse whose events were
    loaded three days ago: it reads their load time and warns, without failing."""
    from orchestration.project import DBT_EXECUTABLE

    warehouse = tmp_path / "warehouse.duckdb"
    shutil.copy(scenario["warehouse"], warehouse)
    with duckdb.connect(str(warehouse)) as conn:
        conn.execute("update raw.events set loaded_at = loaded_at - interval 3 day")
        (newest,) = conn.execute("select max(loaded_at) from raw.events").fetchone()
    target = tmp_path / "target"
    env = {**os.environ, "MH_WAREHOUSE": str(warehouse), "DBT_SEND_ANONYMOUS_USAGE_STATS": "false"}
    command = [
        DBT_EXECUTABLE, "source", "freshness", "--project-dir", str(REPO_ROOT),
        "--profiles-dir", str(REPO_ROOT), "--target-path", str(target),
    ]  # fmt: skip
    result = subprocess.run(command, cwd=REPO_ROOT, env=env, capture_output=True, text=True)
    assert result.returncode == 0, result.stdout + result.stderr
    freshness = json.loads((target / "sources.json").read_text())
    results = {result["unique_id"]: result for result in freshness["results"]}
    events = results.pop("source.meterhouse.landing.events")
    assert events["status"] == "warn"
    assert events["max_loaded_at"].startswith(newest.isoformat(sep="T")[:19])
    assert events["max_loaded_at_time_ago_in_s"] > 3 * 86400 - 600
    assert results == {}, "only the events feed has a freshness check"


def test_docs_tables_page_lists_every_public_table_and_column(manifest: dict) -> None:
    page = (REPO_ROOT / "docs" / "tables.md").read_text()
    sections = dict(re.findall(r"^## `billing\.(\w+)`\n(.*?)(?=^## |\Z)", page, re.S | re.M))
    for model in _public_models(manifest):
        assert model["name"] in sections, f"docs/tables.md has no section for {model['name']}"
        documented = set(re.findall(r"^\| `(\w+)` \|", sections[model["name"]], re.M))
        missing = sorted(set(model["columns"]) - documented)
        assert missing == [], f"docs/tables.md misses columns of {model['name']}"


def _free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


@pytest.mark.integration
def test_docs_site_is_built_from_the_warehouse_and_served(scenario: dict, tmp_path: Path) -> None:
    locations = Locations(
        catalog_dir=scenario["catalog"],
        landing_dir=scenario["landing"],
        warehouse=scenario["warehouse"],
        output_dir=tmp_path,
    )
    site = dbt_docs.generate(locations, tmp_path / "site")
    for name in dbt_docs.SITE_FILES:
        assert (site / name).stat().st_size > 0
    catalog = json.loads((site / "catalog.json").read_text())
    tables = {node["metadata"]["name"]: node for node in catalog["nodes"].values()}
    invoices = tables["fct_invoices"]
    assert invoices["metadata"]["schema"] == PUBLIC_SCHEMA
    assert "total_amount" in {c.lower() for c in invoices["columns"]}

    port = _free_port()
    server = dbt_docs.make_server(site, "127.0.0.1", port)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        with urllib.request.urlopen(f"http://127.0.0.1:{port}/catalog.json", timeout=10) as reply:
            assert reply.status == 200
            assert json.loads(reply.read())["nodes"].keys() == catalog["nodes"].keys()
    finally:
        server.shutdown()
        server.server_close()
        thread.join(timeout=10)
    assert not thread.is_alive()


def test_docs_refuses_a_missing_warehouse(tmp_path: Path) -> None:
    locations = Locations(
        catalog_dir=tmp_path,
        landing_dir=tmp_path,
        warehouse=tmp_path / "none.duckdb",
        output_dir=tmp_path,
    )
    with pytest.raises(dbt_docs.DocsError, match=r"no warehouse at .*none\.duckdb"):
        dbt_docs.generate(locations, tmp_path / "site")
    assert not (tmp_path / "none.duckdb").exists()


def test_docs_command_reports_a_missing_warehouse(tmp_path: Path, capsys) -> None:
    from orchestration.cli import main

    warehouse = tmp_path / "work" / "none.duckdb"
    args = ["docs", "--no-serve", "--warehouse", str(warehouse), "--output", str(tmp_path)]
    assert main(args) == 2
    assert "meterhouse docs: no warehouse at" in capsys.readouterr().err
    assert not warehouse.exists()
