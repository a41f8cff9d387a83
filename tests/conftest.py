"""Shared fixtures: the dbt manifest, one hand-made billing scenario closed once per session, and
the reference run the crash and concurrency tests compare with.

The scenario's numbers are worked out by hand in tests/integration/test_monthly_close.py from the
docs/rules.md and seeds/catalog; the warehouse is built once and shared (closing costs ~15 s).
"""

import csv
import json
import os
from pathlib import Path

import duckdb
import pyarrow as pa
import pyarrow.csv
import pyarrow.parquet
import pytest

from orchestration.settings import REPO_ROOT

CATALOG = REPO_ROOT / "seeds" / "catalog"


def pytest_configure(config: pytest.Config) -> None:
    """dagster-dbt reads target/manifest.json when test modules import the definitions, which
    happens at collection, before any fixture: prepare it first (a fresh clone has none)."""
    from orchestration.project import ensure_manifest

    ensure_manifest()
    # Every test run gets the Dagster instance beside its own warehouse, never the developer's.
    os.environ.pop("DAGSTER_HOME", None)


# The suite runs on pytest-xdist workers (`-n auto --dist loadfile`, pyproject.toml), scheduled
# by `ModuleGroupScheduling`: a module's tests stay on one worker, so its module-scoped warehouse
# is built once, and the modules sharing one of the session warehouses below go together too (the
# hand-made `scenario` is cheap enough to build once per worker). Groups are handed out slowest
# first, so no long one starts last; a module missing from SLOWEST_FIRST runs after those listed.
SHARED_WAREHOUSES = {
    "cli_reference": (
        "tests/integration/test_concurrent_runs.py",
        "tests/integration/test_crash_recovery.py",
        "tests/integration/test_finalized_invoice_documents.py",
        "tests/integration/test_webhooks.py",
    ),
    "closed_workspace": (
        "tests/api/test_crash.py",
        "tests/api/test_lago_client.py",
        "tests/api/test_portal_browser.py",
    ),
}
GROUP_OF_MODULE = {
    module: group for group, modules in SHARED_WAREHOUSES.items() for module in modules
}
SLOWEST_FIRST = (
    "cli_reference",
    "tests/integration/test_late_data.py",
    "tests/integration/test_demo.py",
    "tests/integration/test_subscription_timelines.py",
    "tests/integration/test_money_after_fees.py",
    # Before test_ui, whose backfill adds runs to the scenario's Dagster instance: this module
    # reads the scenario's last run and landing metadata. A worker runs its groups in this order.
    "tests/integration/test_month_review.py",
    "tests/integration/test_ui.py",
    "tests/integration/test_spend_caps.py",
    "tests/integration/test_invoice_preview.py",
    "closed_workspace",
    "tests/orchestration/test_exact_arithmetic.py",
    "tests/integration/test_rating_rules.py",
    "tests/integration/test_monthly_close.py",
    "tests/integration/test_hostile_input.py",
    "tests/orchestration/test_bench.py",
    "tests/orchestration/test_bench_usage.py",
    "tests/integration/test_current_usage.py",
)
MAX_WORKERS = 4  # each worker builds its own scenario; more rarely pays on a laptop


def _group(nodeid: str) -> str:
    module = nodeid.split("::")[0]
    return GROUP_OF_MODULE.get(module, module)


def pytest_xdist_auto_num_workers(config: pytest.Config) -> int:
    return max(1, min(os.cpu_count() or 1, MAX_WORKERS))


def pytest_xdist_make_scheduler(config: pytest.Config, log):
    """xdist's per-file scheduling, with the files of one shared warehouse as one unit."""
    from xdist.scheduler import LoadFileScheduling

    class ModuleGroupScheduling(LoadFileScheduling):
        def _split_scope(self, nodeid: str) -> str:
            return _group(nodeid)

    return ModuleGroupScheduling(config, log)


@pytest.hookimpl(tryfirst=True)
def pytest_collection_modifyitems(config: pytest.Config, items: list[pytest.Item]) -> None:
    """Slowest groups first; and a module that uses a shared warehouse must be in its group, or
    each worker would build that warehouse again."""
    for item in items:
        for name in SHARED_WAREHOUSES:
            module = item.nodeid.split("::")[0]
            if name in item.fixturenames and GROUP_OF_MODULE.get(module) != name:
                raise pytest.UsageError(f"{module} uses {name}: list it in SHARED_WAREHOUSES")
    rank = {group: index for index, group in enumerate(SLOWEST_FIRST)}
    items.sort(key=lambda item: rank.get(_group(item.nodeid), len(rank)))


def write_ndjson(path: Path, rows: list[dict | str]) -> None:
    """One JSON document per line (a str row is written as it is, for broken lines)."""
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text("".join((r if isinstance(r, str) else json.dumps(r)) + "\n" for r in rows))


def write_catalog_csv(path: Path, rows: list[dict]) -> None:
    """A catalog file with the header of its seeds/catalog namesake; absent cells are empty."""
    with (CATALOG / path.name).open(newline="") as seed:
        header = next(csv.reader(seed))
    path.parent.mkdir(parents=True, exist_ok=True)
    with path.open("w", newline="") as handle:
        writer = csv.DictWriter(handle, fieldnames=header, restval="", extrasaction="raise")
        writer.writeheader()
        writer.writerows(rows)


def _write_table(path: Path, rows: list[dict]) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    table = pa.Table.from_pylist(
        [{k: (json.dumps(v) if isinstance(v, dict) else v) for k, v in r.items()} for r in rows]
    )
    if path.suffix == ".csv":
        pyarrow.csv.write_csv(table, path)
    else:
        pyarrow.parquet.write_table(table, path)


def _api_call(subscription: str, index: int) -> dict:
    return {
        "transaction_id": f"api_{index}",
        "external_subscription_id": subscription,
        "code": "api_calls",
        "timestamp": f"2026-10-{1 + index % 31:02d}T10:00:00Z",
        "properties": {"endpoint": "/v1/chat"},
    }


def build_scenario_landing(landing: Path) -> None:
    """Three customers in USD (UTC), EUR (Berlin) and JPY (Tokyo), October 2026."""
    _write_table(
        landing / "customers" / "customers.csv",
        [
            {
                "external_customer_id": "cust_us",
                "name": "Acme & Sons <Ltd>",
                "legal_name": "Acme",
                "email": "ap@acme.example",
                "address_line1": "1 Main St",
                "city": "San Francisco",
                "zipcode": "94105",
                "state": "CA",
                "country": "US",
                "currency": "USD",
                "timezone": "",
                "tax_codes": "us_ca_sales",
                "updated_at": "2026-07-01T00:00:00Z",
            },
            {
                "external_customer_id": "cust_de",
                "name": "Berliner Daten GmbH",
                "legal_name": "Berliner Daten GmbH",
                "email": "rechnung@bd.example",
                "address_line1": "Torstraße 1",
                "city": "Berlin",
                "zipcode": "10115",
                "country": "DE",
                "currency": "EUR",
                "timezone": "Europe/Berlin",
                "tax_codes": "de_vat",
                "updated_at": "2026-07-02T00:00:00Z",
            },
            {
                "external_customer_id": "cust_jp",
                "name": "Sakura KK",
                "legal_name": "Sakura KK",
                "email": "keiri@sakura.example",
                "address_line1": "1-1 Marunouchi",
                "city": "Tokyo",
                "zipcode": "100-0005",
                "country": "JP",
                "currency": "JPY",
                "timezone": "Asia/Tokyo",
                "tax_codes": "jp_ct",
                "updated_at": "2026-07-03T00:00:00Z",
            },
        ],
    )
    write_ndjson(
        landing / "subscriptions" / "subscriptions.ndjson",
        [
            {
                "external_subscription_id": "sub_us",
                "external_customer_id": "cust_us",
                "plan_code": "starter_usd",
                "started_at": "2026-10-01T00:00:00Z",
            },
            {
                "external_subscription_id": "sub_de",
                "external_customer_id": "cust_de",
                "plan_code": "team_eur",
                "started_at": "2026-10-10T12:00:00Z",
            },
            {
                "external_subscription_id": "sub_jp",
                "external_customer_id": "cust_jp",
                "plan_code": "starter_jpy",
                "started_at": "2026-09-30T15:00:00Z",
            },
        ],
    )
    us_calls = [_api_call("sub_us", i) for i in range(12_345)]
    # The same 12,345 US calls arrive in three formats; the Tokyo calls in NDJSON.
    write_ndjson(landing / "events" / "a_us_calls.ndjson", us_calls[:10_000])
    _write_table(landing / "events" / "b_us_calls.csv", us_calls[10_000:12_000])
    _write_table(landing / "events" / "c_us_calls.parquet", us_calls[12_000:])
    other = [_api_call("sub_jp", i) for i in range(12_345)]
    other += [
        {
            "event": {
                "transaction_id": f"tok_{i}",
                "external_subscription_id": "sub_us",
                "code": "tokens",
                "timestamp": 1791194400,
                "properties": {"tokens": 30001},
            }
        }
        for i in range(3)
    ]
    other += [
        {
            "transaction_id": f"usr_{i}",
            "external_subscription_id": "sub_de",
            "code": "active_users",
            "timestamp": "2026-10-15T10:00:00Z",
            "properties": {"user_id": f"u{i % 3}"},
        }
        for i in range(5)
    ]
    other += [
        {
            "transaction_id": "str_1",
            "external_subscription_id": "sub_de",
            "code": "peak_streams",
            "timestamp": "2026-10-15T10:00:00Z",
            "properties": {"streams": 4},
        },
        {
            "transaction_id": "str_2",
            "external_subscription_id": "sub_de",
            "code": "peak_streams",
            "timestamp": "2026-10-16T10:00:00Z",
            "properties": {"streams": "7"},
        },
        # Before the German subscription started (Oct 10 12:00 UTC): valid, not billable.
        {
            "transaction_id": "str_0",
            "external_subscription_id": "sub_de",
            "code": "peak_streams",
            "timestamp": "2026-10-10T11:59:59Z",
            "properties": {"streams": 20},
        },
    ]
    write_ndjson(landing / "events" / "d_other.ndjson", other)
    bad = [
        "{broken json",
        {
            "transaction_id": "m1",
            "external_subscription_id": "sub_us",
            "timestamp": "2026-10-02T00:00:00Z",
        },
        {
            "transaction_id": "m2",
            "external_subscription_id": "sub_us",
            "code": "api_calls",
            "timestamp": "not-a-date",
        },
        {
            "transaction_id": "m3",
            "external_subscription_id": "sub_us",
            "code": "api_calls",
            "timestamp": "2099-01-01T00:00:00Z",
        },
        {
            "transaction_id": "m4",
            "external_subscription_id": "sub_us",
            "code": "tokens",
            "timestamp": "2026-10-02T00:00:00Z",
            "properties": ["not", "an", "object"],
        },
        {
            "transaction_id": "m5",
            "external_subscription_id": "sub_us",
            "code": "nonexistent",
            "timestamp": "2026-10-02T00:00:00Z",
        },
        {
            "transaction_id": "m6",
            "external_subscription_id": "sub_ghost",
            "code": "api_calls",
            "timestamp": "2026-10-02T00:00:00Z",
        },
        us_calls[5],  # exact duplicate: dropped, counted
        {**us_calls[6], "properties": {"endpoint": "/v1/other"}},  # conflicting duplicate
    ]
    write_ndjson(landing / "events" / "e_bad.ndjson", bad)


@pytest.fixture(scope="session")
def scenario(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Path]:
    """The scenario, closed for October 2026 and finalized, through the CLI."""
    from orchestration.cli import main

    root = tmp_path_factory.mktemp("scenario")
    build_scenario_landing(root / "landing")
    locations = {
        "catalog": CATALOG,
        "landing": root / "landing",
        "warehouse": root / "warehouse.duckdb",
        "output": root / "output",
    }
    args = [f"--{name}={path}" for name, path in locations.items()]
    assert main(["close", "--month", "2026-10", *args]) == 0
    drafts = query(locations["warehouse"], INVOICE_SNAPSHOT)
    assert main(["finalize", "--month", "2026-10", *args]) == 0
    return {**locations, "root": root, "args": args, "drafts": drafts}


@pytest.fixture
def cli_reference(tmp_path_factory: pytest.TempPathFactory) -> dict:
    """The uninterrupted close and finalization that the crash and concurrency tests compare
    with (tests/integration/cli_runs.py; built once per session)."""
    from cli_runs import shared_reference  # beside the integration modules that use it

    return shared_reference(tmp_path_factory)


@pytest.fixture
def cli_workspace(cli_reference: dict, request: pytest.FixtureRequest) -> Path:
    """A fresh copy of the reference inputs, for one test's own runs."""
    from cli_runs import new_workspace

    return new_workspace(cli_reference, request.node.name)


INVOICE_SNAPSHOT = """
    select invoice_id, invoice_number, status, external_customer_id, issuing_date, fees_amount,
           taxes_amount, total_amount
    from billing.fct_invoices order by invoice_id
"""


def query(warehouse: Path, sql: str, params: list | None = None) -> list[tuple]:
    """Read the warehouse (a short read-write connection, as the CLI's runs hold none)."""
    with duckdb.connect(str(warehouse)) as conn:
        return conn.execute(sql, params or []).fetchall()
