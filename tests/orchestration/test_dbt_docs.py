"""The dbt docs: every model, public column and data test is described, and `meterhouse docs`
builds a site whose catalog holds the billing tables and serves it on localhost.

The manifest checks read target/manifest.json, which tests/conftest.py prepares (`dbt parse`)
before collection. docs/tables.md is checked against the same manifest, so the page a BI user
reads lists every column of every public table.
"""

import json
import re
import socket
import threading
import urllib.request
from pathlib import Path

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
KEY_TESTS = {"unique", "unique_combination_of_columns"}
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
    """docs/contributing.md, "Tests": a `unique` or `unique_combination_of_columns` test per model.
    An ephemeral model is exempt: it is no relation, so no query can test it."""
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
        "models without a primary-key test (add `unique` or `unique_combination_of_columns` to "
        "the YAML beside the SQL, with a description of what a duplicate means): "
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
